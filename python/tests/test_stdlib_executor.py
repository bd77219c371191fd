"""CPython's concurrent.futures tests for process pools, ported: their
intent, not their code.

Run against the stdlib first (PROCMAP_TEST_AGAINST=stdlib: a fork
ProcessPoolExecutor of 2 workers; forkserver where max_tasks_per_child needs
it), then against procmap.Executor (the default); see stdlib_pools.py for the
switch and for where procmap differs on purpose.

Ported from Lib/test/test_concurrent_futures/:
- executor.py (ExecutorTest): test_submit, test_submit_keyword, test_map,
  test_map_exception, test_map_timeout, test_shutdown_race_issue12456,
  test_no_stale_references, test_max_workers_negative, test_free_reference;
- test_process_pool.py: test_map_chunksize, test_traceback,
  test_max_tasks_per_child (pids, not the private _processes),
  test_max_tasks_per_child_pending_tasks_gh115634, test_max_tasks_early_shutdown,
  test_killed_child (a worker that dies: the stdlib breaks the executor with
  BrokenProcessPool, procmap fails that future with procmap.WorkerCrashed and
  keeps working);
- test_shutdown.py: test_run_after_shutdown, test_interpreter_shutdown,
  test_hang_issue12364, test_cancel_futures (made deterministic: one task is
  known to run before shutdown), test_context_manager_shutdown,
  test_shutdown_no_wait (the results, not the private threads),
  test_hang_gh94440;
- test_init.py: InitializerMixin.test_initializer,
  FailingInitializerMixin.test_initializer (BrokenExecutor under the stdlib;
  under procmap only that the future fails);
- test_wait.py: test_20369, test_first_completed,
  test_first_completed_some_already_completed, test_first_exception,
  test_first_exception_some_already_complete,
  test_first_exception_one_already_failed, test_all_completed, test_timeout;
- test_as_completed.py: test_no_timeout, test_future_times_out,
  test_duplicate_futures.
From pebble's process pool tests: an unpicklable argument or result fails its
future, an exception does not affect other futures, large data (here 20 MB
each way; procmap promises at least 64 MB).
Added for issue 18: the executor is a concurrent.futures.Executor whose submit
returns a Future, map over iterables of unequal length, map's order and
laziness with gated items, map over an empty input, asyncio's
run_in_executor, retries (procmap only).

Left out: the tests that read private state (_processes, _broken,
_executor_manager_thread, _call_queue, _mp_context: test_saturation,
test_idle_process_reuse_*, test_processes_terminate, test_del_shutdown,
test_max_tasks_per_child_defaults_to_spawn_context), the ones that mock
internals (test_python_finalization_error, test_sysconf_permission_error,
terminate_workers/kill_workers and _force_shutdown, the
stranded/unreplaceable worker-exit tests), ones about stdlib-specific
messages or start methods (test_broken_process_pool_traceback,
test_traceback_when_child_process_terminates_abruptly,
test_max_workers_too_large on Windows, test_ressources_gced_in_workers with
a manager, test_shutdown_gh_132969 with spawn), test_submit_after_interpreter_shutdown
(the order of the stdlib's own atexit hooks), test_hang_gh83386 (skipped by
CPython itself for process pools), the thread and interpreter pool variants,
and the tests of Future and as_completed/wait on hand-made futures only
(test_future.py, test_free_reference_yielded_future,
test_correct_timeout_exception_msg): they test concurrent.futures, not an
executor.
"""

import asyncio
import gc
import itertools
import os
import pickle
import sys
import threading
import time
import weakref
from concurrent import futures
from concurrent.futures import BrokenExecutor, Future
from concurrent.futures.process import BrokenProcessPool

import pytest
import stdlib_funcs as f
from stdlib_pools import STDLIB, TIMEOUT, bounded, make_executor, procmap_only, stdlib_only, wait_until, worker_crashed


@pytest.fixture
def make():
    """Builds executors under test (make_executor's arguments) and shuts them
    down after the test."""
    executors = []

    def build(max_workers=2, **kwargs):
        executor = make_executor(max_workers, **kwargs)
        executors.append(executor)
        return executor

    yield build
    for executor in executors:
        bounded(lambda: executor.shutdown(wait=True, cancel_futures=True), "shutdown")


@pytest.fixture
def executor(make):
    return make()


# Futures in each state, made through Future's public methods (CPython's
# util.py sets their private _state).
def successful_future():
    future = Future()
    future.set_result(42)
    return future


def exception_future():
    future = Future()
    future.set_exception(OSError())
    return future


def cancelled_future():
    future = Future()
    future.cancel()
    return future


def cancelled_and_notified_future():
    future = Future()
    future.cancel()
    assert not future.set_running_or_notify_cancel()
    return future


# ---- submit ------------------------------------------------------------------


def test_executor_is_a_concurrent_futures_executor(executor):
    assert isinstance(executor, futures.Executor)
    future = executor.submit(pow, 2, 8)
    assert isinstance(future, Future)
    assert future.result(timeout=TIMEOUT) == 256
    assert future.done() and not future.cancelled() and future.exception() is None


def test_submit(executor):
    assert executor.submit(pow, 2, 8).result(timeout=TIMEOUT) == 256


def test_submit_keyword(executor):
    assert executor.submit(f.mul, 2, y=8).result(timeout=TIMEOUT) == 16
    # `fn` and `self` are free to be the function's own keywords.
    future = executor.submit(f.capture, 1, self=2, fn=3)
    assert future.result(timeout=TIMEOUT) == ((1,), {"self": 2, "fn": 3})
    with pytest.raises(TypeError):
        executor.submit(fn=f.capture, arg=1)
    with pytest.raises(TypeError):
        executor.submit(arg=1)


def test_traceback(executor, capsys):
    future = executor.submit(f.raise_runtime_error)
    with pytest.raises(Exception) as caught:
        future.result(timeout=TIMEOUT)
    exc = caught.value
    assert type(exc) is RuntimeError
    assert exc.args == (123,)
    cause = exc.__cause__
    assert "RemoteTraceback" in type(cause).__name__
    assert "raise RuntimeError(123) # some comment" in str(cause)
    assert future.exception() is exc

    try:
        raise exc
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert "raise RuntimeError(123) # some comment" in capsys.readouterr().err


def test_an_exception_does_not_affect_other_futures(executor):
    failed = executor.submit(f.raising)
    ok = executor.submit(f.sqr, 3)
    with pytest.raises(KeyError):
        failed.result(timeout=TIMEOUT)
    assert ok.result(timeout=TIMEOUT) == 9
    assert executor.submit(f.sqr, 4).result(timeout=TIMEOUT) == 16


def test_an_unpicklable_argument_fails_its_future(executor):
    future = executor.submit(f.identity, threading.Lock())
    with pytest.raises((TypeError, pickle.PicklingError)):
        future.result(timeout=TIMEOUT)
    assert executor.submit(f.sqr, 5).result(timeout=TIMEOUT) == 25


def test_an_unpicklable_result_fails_its_future(executor):
    future = executor.submit(f.unpicklable_result)
    with pytest.raises((TypeError, pickle.PicklingError)):
        future.result(timeout=TIMEOUT)
    assert executor.submit(f.sqr, 5).result(timeout=TIMEOUT) == 25


def test_no_stale_references(executor):
    # The executor drops the function and arguments of a finished task, even
    # when nobody holds its future.
    obj = f.MyObject()
    collected = threading.Event()
    ref = weakref.ref(obj, lambda _: collected.set())
    executor.submit(obj.my_method)
    del obj
    deadline = time.monotonic() + TIMEOUT
    while not collected.wait(timeout=0.1):
        gc.collect()
        assert time.monotonic() < deadline, "the submitted object was never released"
    assert ref() is None


# ---- map ---------------------------------------------------------------------


def test_map(executor):
    assert list(executor.map(pow, range(10), range(10))) == list(map(pow, range(10), range(10)))
    assert list(executor.map(pow, range(10), range(10), chunksize=3)) == list(map(pow, range(10), range(10)))


def test_map_stops_at_the_shortest_iterable(executor):
    assert list(executor.map(f.mul, [1, 2, 3], [4, 5])) == [4, 10]
    assert list(executor.map(f.mul, [], [4, 5])) == []


def test_map_of_an_empty_input(executor):
    assert list(executor.map(f.sqr, [])) == []


def test_map_exception(executor):
    it = executor.map(divmod, [1, 1, 1, 1], [2, 3, 0, 5])
    assert next(it) == (0, 1)
    assert next(it) == (0, 1)
    with pytest.raises(ZeroDivisionError) as caught:
        next(it)
    assert "RemoteTraceback" in type(caught.value.__cause__).__name__
    assert "ZeroDivisionError" in str(caught.value.__cause__)


def test_map_timeout(executor, tmp_path):
    gate = str(tmp_path / "gate")
    # Workers up first, so that the timeout is spent on the items alone.
    assert executor.submit(f.sqr, 1).result(timeout=TIMEOUT) == 1
    results = []
    try:
        with pytest.raises(futures.TimeoutError):
            for value in executor.map(f.wait_for_gate, [None, None, gate], timeout=2):
                results.append(value)
    finally:
        open(gate, "w").close()
    assert results == [None, None]


def test_map_chunksize(executor):
    expected = list(map(pow, range(40), range(40)))
    for chunksize in (6, 50, 40):
        assert list(executor.map(pow, range(40), range(40), chunksize=chunksize)) == expected
    with pytest.raises(ValueError):
        list(executor.map(pow, range(40), range(40), chunksize=-1))


@stdlib_only(
    "the engine queues the next chunk to a worker before it is free (to hide the round trip), so a "
    "chunk can wait behind a long one in the same worker; the stdlib's workers share one queue"
)
def test_map_keeps_order_when_later_items_finish_first(executor, tmp_path):
    gate, marks = str(tmp_path / "gate"), tmp_path / "marks"
    marks.mkdir()
    jobs = [(0, gate, str(marks))] + [(x, None, str(marks)) for x in range(1, 6)]
    it = executor.map(f.gated_sqr, jobs)
    wait_until(lambda: len(os.listdir(marks)) == 5, "items 1..5 to finish")
    open(gate, "w").close()
    assert list(it) == [0, 1, 4, 9, 16, 25]


def test_map_yields_a_result_before_later_items_are_done(executor, tmp_path):
    gate = str(tmp_path / "gate")
    it = executor.map(f.gated_sqr, [(0, None, None), (1, gate, None), (2, None, None)])
    assert next(it) == 0
    open(gate, "w").close()
    assert list(it) == [1, 4]


def test_free_reference(executor):
    # The result iterator keeps no reference to the results it yielded.
    for obj in executor.map(f.make_dummy_object, range(10)):
        ref = weakref.ref(obj)
        del obj
        gc.collect()
        assert ref() is None


# ---- large payloads ----------------------------------------------------------

PAYLOAD = 20 * 1024 * 1024


def test_large_item_and_large_value(executor):
    data = f.pattern_bytes(PAYLOAD)
    assert executor.submit(f.digest, data).result(timeout=TIMEOUT) == f.digest(data)
    assert executor.submit(f.pattern_bytes, PAYLOAD).result(timeout=TIMEOUT) == data
    assert list(executor.map(f.digest, [data, b"ab"])) == [f.digest(data), f.digest(b"ab")]


# ---- shutdown ----------------------------------------------------------------


def test_run_after_shutdown(executor):
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 5)
    with pytest.raises(RuntimeError):
        list(executor.map(pow, [2], [5]))


def test_shutdown_race_issue12456(executor):
    executor.map(str, [2] * 3)
    executor.shutdown()


def test_shutdown_waits_for_pending_work_issue12364(executor):
    fs = [executor.submit(f.sqr, i, 0.02) for i in range(20)]
    executor.shutdown()
    assert all(future.done() for future in fs)
    assert [future.result(timeout=0) for future in fs] == [i * i for i in range(20)]


def test_cancel_futures(make, tmp_path):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    executor = make(1)
    running = executor.submit(f.announce_and_wait, started, gate, "ran")
    wait_until(lambda: f.read_lines(started), "the first task to start")
    fs = [executor.submit(f.sqr, i, 0.1) for i in range(50)]
    threading.Timer(0.2, lambda: open(gate, "w").close()).start()
    executor.shutdown(cancel_futures=True)
    # The task that was running completes; most queued ones are cancelled,
    # and those that are not completed normally.
    assert running.result(timeout=0) == "ran"
    cancelled = [future for future in fs if future.cancelled()]
    assert len(cancelled) > 40
    for i, future in enumerate(fs):
        if not future.cancelled():
            assert future.done() and future.result(timeout=0) == i * i


def test_context_manager_shutdown(make):
    with make(2) as executor:
        assert list(executor.map(abs, range(-5, 5))) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        executor.submit(abs, -1)


def test_shutdown_no_wait_still_completes_submitted_work(make):
    executor = make(2)
    results = executor.map(abs, range(-5, 5))
    future = executor.submit(f.sqr, 7, 0.05)
    executor.shutdown(wait=False)
    assert list(results) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    assert future.result(timeout=TIMEOUT) == 49


def test_shutdown_after_a_cancelled_future_does_not_hang_gh94440(make):
    executor = make(1)
    assert executor.submit(int).result(timeout=TIMEOUT) == 0
    executor.submit(int).cancel()
    executor.shutdown(wait=True)  # bounded by the test's timeout


def test_interpreter_shutdown_waits_for_submitted_work(script, tmp_path):
    # A script that submits work and exits without shutting down the
    # executor: the work still runs, and the exit is clean.
    out = tmp_path / "out"
    proc = script(
        f"""
        import stdlib_funcs
        import stdlib_pools

        if __name__ == "__main__":
            executor = stdlib_pools.make_executor(2)
            executor.submit(stdlib_funcs.sleep_and_append, 0.3, {str(out)!r}, "apple")
        """
    )
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert f.read_lines(out) == ["apple"]


# ---- initializer and workers -------------------------------------------------


def test_initializer(make):
    executor = make(2, initializer=f.init, initargs=("initialized",))
    fs = [executor.submit(f.get_init_status) for _ in range(4)]
    assert [future.result(timeout=TIMEOUT) for future in fs] == ["initialized"] * 4


def test_failing_initializer(make):
    executor = make(2, initializer=f.init_fail)
    with pytest.raises(Exception) as caught:
        executor.submit(f.get_init_status).result(timeout=TIMEOUT)
    assert not isinstance(caught.value, futures.TimeoutError)
    if STDLIB:
        # The stdlib breaks the executor; from then on submit fails.
        assert isinstance(caught.value, BrokenExecutor)
        with pytest.raises(BrokenExecutor):
            executor.submit(f.get_init_status)


def test_max_workers_negative():
    for number in (0, -1):
        with pytest.raises(ValueError, match="max_workers"):
            make_executor(number)


def test_max_tasks_per_child(make):
    executor = make(1, max_tasks_per_child=3)
    original = executor.submit(os.getpid).result(timeout=TIMEOUT)
    # The same worker serves up to 3 tasks...
    assert executor.submit(os.getpid).result(timeout=TIMEOUT) == original
    assert executor.submit(os.getpid).result(timeout=TIMEOUT) == original
    # ... then a new one takes over.
    replacement = executor.submit(os.getpid).result(timeout=TIMEOUT)
    assert replacement != original
    assert os.getpid() not in (original, replacement)


# The stdlib deadlocks when 1 < max_tasks_per_child and tasks queue up
# (gh-115634, in 3.11 through 3.15.0b3; fixed in later 3.13 and 3.14 releases).
STDLIB_GH115634 = pytest.mark.skipif(STDLIB, reason="the stdlib deadlocks here (gh-115634)")


@pytest.mark.parametrize(
    "max_workers,max_tasks,n",
    [(1, 1, 4), (2, 1, 6), pytest.param(1, 2, 6, marks=STDLIB_GH115634), pytest.param(2, 2, 8, marks=STDLIB_GH115634)],
)
def test_max_tasks_per_child_with_a_backlog_gh115634(make, max_workers, max_tasks, n):
    executor = make(max_workers, max_tasks_per_child=max_tasks)
    fs = [executor.submit(f.mul, i, 2) for i in range(n)]
    assert [future.result(timeout=TIMEOUT) for future in fs] == [i * 2 for i in range(n)]


def test_max_tasks_early_shutdown(make):
    executor = make(2, max_tasks_per_child=1)
    fs = [executor.submit(f.mul, i, i) for i in range(4)]
    executor.shutdown()
    assert [future.result(timeout=0) for future in fs] == [i * i for i in range(4)]


# ---- wait --------------------------------------------------------------------


def test_wait_with_a_duplicate_future_20369(executor):
    future = executor.submit(f.mul, 1, 2)
    done, not_done = futures.wait([future, future], timeout=TIMEOUT, return_when=futures.ALL_COMPLETED)
    assert (done, not_done) == ({future}, set())


def test_first_completed(executor, tmp_path):
    gate = str(tmp_path / "gate")
    cancelled = cancelled_future()
    future1 = executor.submit(f.mul, 21, 2)
    future2 = executor.submit(f.wait_for_gate, gate)
    try:
        done, not_done = futures.wait(
            [cancelled, future1, future2], timeout=TIMEOUT, return_when=futures.FIRST_COMPLETED
        )
        assert done == {future1}
        assert not_done == {cancelled, future2}
    finally:
        open(gate, "w").close()
    future2.result(timeout=TIMEOUT)


def test_first_completed_some_already_completed(executor, tmp_path):
    gate = str(tmp_path / "gate")
    notified, successful = cancelled_and_notified_future(), successful_future()
    future1 = executor.submit(f.wait_for_gate, gate)
    try:
        finished, pending = futures.wait(
            [notified, successful, future1], timeout=TIMEOUT, return_when=futures.FIRST_COMPLETED
        )
        assert finished == {notified, successful}
        assert pending == {future1}
    finally:
        open(gate, "w").close()
    future1.result(timeout=TIMEOUT)


def test_first_exception(executor, tmp_path):
    gate1, gate2 = str(tmp_path / "gate1"), str(tmp_path / "gate2")
    try:
        future1 = executor.submit(f.mul, 2, 21)
        future2 = executor.submit(f.wait_and_raise, gate1)
        future3 = executor.submit(f.wait_for_gate, gate2)

        # future1 completes before future2 raises.
        def open_gate1_after_future1():
            future1.result(timeout=TIMEOUT)
            open(gate1, "w").close()

        opener = threading.Thread(target=open_gate1_after_future1)
        opener.start()
        finished, pending = futures.wait(
            [future1, future2, future3], timeout=TIMEOUT, return_when=futures.FIRST_EXCEPTION
        )
        assert finished == {future1, future2}
        assert pending == {future3}
        assert str(future2.exception(timeout=0)) == "this is an exception"
        opener.join(TIMEOUT)
    finally:
        open(gate1, "a").close()
        open(gate2, "a").close()
    future3.result(timeout=TIMEOUT)


def test_first_exception_some_already_complete(executor, tmp_path):
    gate = str(tmp_path / "gate")
    successful, cancelled, notified = successful_future(), cancelled_future(), cancelled_and_notified_future()
    future1 = executor.submit(divmod, 21, 0)
    future2 = executor.submit(f.wait_for_gate, gate)
    try:
        finished, pending = futures.wait(
            [successful, cancelled, notified, future1, future2],
            timeout=TIMEOUT,
            return_when=futures.FIRST_EXCEPTION,
        )
        assert finished == {successful, notified, future1}
        assert pending == {cancelled, future2}
        assert isinstance(future1.exception(timeout=0), ZeroDivisionError)
    finally:
        open(gate, "w").close()
    future2.result(timeout=TIMEOUT)


def test_first_exception_one_already_failed(executor, tmp_path):
    gate = str(tmp_path / "gate")
    failed = exception_future()
    future1 = executor.submit(f.wait_for_gate, gate)
    try:
        finished, pending = futures.wait([failed, future1], timeout=TIMEOUT, return_when=futures.FIRST_EXCEPTION)
        assert finished == {failed}
        assert pending == {future1}
    finally:
        open(gate, "w").close()
    future1.result(timeout=TIMEOUT)


def test_all_completed(executor):
    successful, notified, failed = successful_future(), cancelled_and_notified_future(), exception_future()
    future1 = executor.submit(divmod, 2, 0)
    future2 = executor.submit(f.mul, 2, 21)
    finished, pending = futures.wait(
        [successful, notified, failed, future1, future2], timeout=TIMEOUT, return_when=futures.ALL_COMPLETED
    )
    assert finished == {successful, notified, failed, future1, future2}
    assert pending == set()
    assert future2.result(timeout=0) == 42
    assert isinstance(future1.exception(timeout=0), ZeroDivisionError)


def test_wait_timeout(executor, tmp_path):
    gate = str(tmp_path / "gate")
    notified, failed, successful = cancelled_and_notified_future(), exception_future(), successful_future()
    future = executor.submit(f.wait_for_gate, gate)
    try:
        finished, pending = futures.wait(
            [notified, failed, successful, future], timeout=0.05, return_when=futures.ALL_COMPLETED
        )
        assert finished == {notified, failed, successful}
        assert pending == {future}
    finally:
        open(gate, "w").close()
    future.result(timeout=TIMEOUT)


# ---- as_completed ------------------------------------------------------------


def test_as_completed_no_timeout(executor):
    notified, failed, successful = cancelled_and_notified_future(), exception_future(), successful_future()
    future1 = executor.submit(f.mul, 2, 21)
    future2 = executor.submit(f.mul, 7, 6)
    completed = list(futures.as_completed([notified, failed, successful, future1, future2], timeout=TIMEOUT))
    assert len(completed) == 5
    assert set(completed) == {notified, failed, successful, future1, future2}
    assert future1.result(timeout=0) == future2.result(timeout=0) == 42


@pytest.mark.parametrize("timeout", [0, 0.1])
def test_as_completed_times_out(executor, tmp_path, timeout):
    gate = str(tmp_path / "gate")
    already = {cancelled_and_notified_future(), exception_future(), successful_future()}
    future = executor.submit(f.wait_for_gate, gate)
    completed = set()
    try:
        with pytest.raises(futures.TimeoutError):
            for done in futures.as_completed(already | {future}, timeout):
                completed.add(done)
    finally:
        open(gate, "w").close()
    assert completed == already
    future.result(timeout=TIMEOUT)


def test_as_completed_with_duplicate_futures(executor):
    future = executor.submit(f.sqr, 3, 0.2)
    completed = list(futures.as_completed(itertools.repeat(future, 3), timeout=TIMEOUT))
    assert completed == [future]
    assert future.result(timeout=0) == 9


@stdlib_only(
    "the engine queues the next chunk to a worker before it is free (to hide the round trip), so a "
    "chunk can wait behind a long one in the same worker; the stdlib's workers share one queue"
)
def test_as_completed_yields_futures_in_completion_order(executor, tmp_path):
    gate = str(tmp_path / "gate")
    slow = executor.submit(f.wait_for_gate, gate, "slow")
    fast = executor.submit(f.sqr, 2)
    it = futures.as_completed([slow, fast], timeout=TIMEOUT)
    assert next(it) is fast
    open(gate, "w").close()
    assert next(it) is slow
    assert slow.result(timeout=0) == "slow"


# ---- asyncio -----------------------------------------------------------------


def test_run_in_executor(executor):
    async def main():
        loop = asyncio.get_running_loop()
        calls = [loop.run_in_executor(executor, pow, 2, i) for i in range(5)]
        values = await asyncio.wait_for(asyncio.gather(*calls), TIMEOUT)
        with pytest.raises(ZeroDivisionError):
            await asyncio.wait_for(loop.run_in_executor(executor, divmod, 1, 0), TIMEOUT)
        return values

    assert asyncio.run(main()) == [1, 2, 4, 8, 16]


# ---- a worker that dies ------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(f.CRASHES))
def test_a_dead_workers_future(executor, kind):
    fn, args = f.CRASHES[kind]
    future = executor.submit(fn, *args)
    if STDLIB:
        # The whole executor breaks: this future and every later submit.
        with pytest.raises(BrokenProcessPool):
            future.result(timeout=TIMEOUT)
        with pytest.raises(BrokenProcessPool):
            executor.submit(pow, 2, 8)
    else:
        # Only this future fails; the executor goes on.
        with pytest.raises(worker_crashed()):
            future.result(timeout=TIMEOUT)
        assert executor.submit(pow, 2, 8).result(timeout=TIMEOUT) == 256
        assert list(executor.map(f.sqr, range(5))) == [0, 1, 4, 9, 16]


def test_map_with_a_dead_workers_item(executor):
    it = executor.map(f.sqr_or_exit, [1, 2, None, 4])
    if STDLIB:
        with pytest.raises(BrokenProcessPool):
            list(it)
    else:
        assert next(it) == 1
        assert next(it) == 4
        with pytest.raises(worker_crashed()):
            next(it)
        assert list(executor.map(f.sqr_or_exit, [5, 6])) == [25, 36]


@procmap_only("retries")
@pytest.mark.parametrize("retries", [0, 2])
def test_retries_n_runs_a_crashing_item_n_plus_one_times(make, tmp_path, retries):
    runs = str(tmp_path / "runs")
    executor = make(2, retries=retries)
    with pytest.raises(worker_crashed()):
        executor.submit(f.count_run_then_exit, runs).result(timeout=TIMEOUT)
    assert len(f.read_lines(runs)) == retries + 1
    assert executor.submit(f.sqr, 3).result(timeout=TIMEOUT) == 9
