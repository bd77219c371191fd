"""The API: ordered map, result fields, up-front errors, items that cannot be
pickled, functions from __main__, the initializer."""

import collections
import os
import re
import subprocess
import tempfile
import threading

import jobs
import pytest

import procmap


def test_map_is_ordered_and_imap_yields_every_item_once():
    with procmap.Pool(procs=2, chunksize=7) as pool:
        assert pool.map(jobs.cube, range(200)) == [x**3 for x in range(200)]
        results = list(pool.imap_unordered(jobs.cube, iter(range(100))))
    assert sorted(r.index for r in results) == list(range(100))
    for r in results:
        assert (r.ok, r.status, r.item, r.value, r.error) == (True, "ok", r.index, r.index**3, None)
        assert r.attempts == 1 and r.worker > 0 and r.ms >= 0


def test_map_raises_the_first_failures_own_exception_after_recording_everything(tmp_path):
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, journal=journal) as pool:
        with pytest.raises(ValueError, match="bad item") as caught:
            pool.map(jobs.faulty, [1, "raise", 3, "exit3", 5])
        with pytest.raises(procmap.WorkerCrashed) as crashed:
            pool.map(jobs.faulty, [1, "exit3", 3, "raise"])
        values = pool.map(jobs.faulty, [1, "raise", 3], return_failures=True)
    # As concurrent.futures: the worker's traceback is the cause.
    cause = caught.value.__cause__
    assert isinstance(cause, procmap.RemoteTraceback)
    assert "in faulty" in str(cause) and 'raise ValueError("bad item")' in str(cause)
    failed = crashed.value.result
    assert (failed.index, failed.status, failed.exit_code) == (1, "crashed", 3)
    assert failed.attempts == 3 and "each of its 3 attempts" in failed.error
    assert values[0] == 1 and values[2] == 27 and values[1].status == "error"
    assert values[1].error == "ValueError: bad item" and "in faulty" in values[1].traceback
    # Every run is in the journal: 5 records, 4, then 3 more appended.
    assert len(procmap.read_journal(journal)) == 12


def test_a_lambda_or_nested_function_fails_before_any_worker_starts():
    def nested(x):
        return x

    with procmap.Pool(procs=2) as pool:
        for fn in (lambda x: x, nested):
            with pytest.raises(TypeError, match="top level of a module"):
                pool.imap_unordered(fn, range(3))
            # Before: the engine, which starts workers, never started.
            # (Not a time bound, which a loaded machine can break.)
            assert not pool._core.native.running()


def test_an_unpicklable_item_is_that_items_error():
    lock = threading.Lock()
    with procmap.Pool(procs=2) as pool:
        results = sorted(pool.imap_unordered(jobs.cube, [1, lock, 3]), key=lambda r: r.index)
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert "cannot pickle the item" in results[1].error
    assert results[1].item is lock
    assert [results[0].value, results[2].value] == [1, 27]


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_function_from_main_works_without_rerunning_the_main_block(script, tmp_path, start_method):
    proc = script(
        f"""
        import procmap

        def square(x):
            return x * x

        if __name__ == "__main__":
            with open("main-block-ran", "a") as f:
                f.write("once\\n")
            with procmap.Pool(procs=2, start_method={start_method!r}) as pool:
                print(pool.map(square, range(10)))
        """
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == str([x * x for x in range(10)])
    assert (tmp_path / "main-block-ran").read_text() == "once\n"


def test_a_main_script_without_a_main_guard_gets_a_clear_error_when_spawning(script):
    # Spawned workers import the script; fork needs no guard (as
    # multiprocessing's fork).
    proc = script(
        """
        import procmap, jobs
        with procmap.Pool(procs=1, start_method="spawn") as pool:
            print(pool.map(jobs.cube, range(3)))
        """
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and out == ""
    assert "PoolError" in err and 'Start pools under `if __name__ == "__main__":`' in err, err
    proc = script(
        """
        import procmap, jobs
        with procmap.Pool(procs=1, start_method="fork") as pool:
            print(pool.map(jobs.cube, range(3)))
        """,
        name="forked.py",
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "[0, 1, 8]", err


def test_the_initializer_runs_once_in_each_worker():
    with procmap.Pool(procs=2, initializer=jobs.init, initargs=("ready",)) as pool:
        assert set(map(tuple, pool.map(jobs.initialized, range(50)))) == {("ready",)}


def test_workers_that_cannot_start_raise_pool_error():
    # The initializer fails in every worker: the pool gives up with the
    # workers' stderr rather than respawning forever.
    with procmap.Pool(procs=1, initializer=jobs.faulty, initargs=("raise",)) as pool:
        with pytest.raises(procmap.PoolError, match="bad item") as caught:
            pool.map(jobs.cube, range(5))
    # Issue 19, frictions: the message names the initializer.
    assert "the pool's initializer" in str(caught.value)


def test_help_answers_the_users_questions():
    doc = procmap.Pool.__doc__
    for word in ("timeout", "mem_limit", "journal", "resume", "WorkerCrashed", "lambda", "Ctrl-C", "pulled",
                 "multiprocessing", "results=False", "maxtasksperchild"):
        assert word in doc
    for word in ("ProcessPoolExecutor", "BrokenProcessPool", "WorkerCrashed", "lazily", "chunksize"):
        assert word in procmap.Executor.__doc__
    for field in ("status", "traceback", "signal", "exit_code", "stderr"):
        assert field in procmap.Result.__doc__


def test_the_worker_module_refuses_to_run_by_hand():
    out = subprocess.run(
        [__import__("sys").executable, "-m", "procmap._worker"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode != 0


def test_items_and_values_of_64_mib_travel_and_a_bigger_value_is_that_items_error():
    # Issue 18: pebble's tests send 100 MB; procmap promises 64 MiB each way
    # and a clear error beyond its 256 MiB message limit.
    big = b"y" * (64 << 20)
    with procmap.Pool(procs=1) as pool:
        assert pool.map(len, [big, b"z"]) == [64 << 20, 1]
        results = sorted(pool.imap_unordered(jobs.sized, [64 << 20, 257 << 20, 3]), key=lambda r: r.index)
        assert results[0].ok and results[0].value == b"x" * (64 << 20)
        assert results[1].status == "error" and "at most" in results[1].error, results[1]
        assert results[2].value == b"xxx"


def test_max_tasks_per_child_replaces_workers():
    with procmap.Pool(procs=2, chunksize=1, max_tasks_per_child=10) as pool:
        pids = pool.map(jobs.pid, range(60))
    assert len(set(pids)) >= 6
    assert max(collections.Counter(pids).values()) <= 10


def test_progress_draws_a_bar_on_stderr(capsys):
    with procmap.Pool(procs=2, progress=True) as pool:
        assert pool.map(jobs.cube, range(100)) == [x**3 for x in range(100)]
    err = capsys.readouterr().err
    assert "procmap [" in err and "100/100" in err


def test_progress_shows_the_recent_rate_as_read_at_a_glance_and_the_items_not_ok(capsys):
    # Issue 22 item 4, for Python: whole jobs/s (or one decimal, or
    # jobs/min), not "24.3459/s", and the failures so far.
    with procmap.Pool(procs=2, chunksize=1, progress=True) as pool:
        pool.map(jobs.nap_or_fail, range(40), return_failures=True)
    last = capsys.readouterr().err.rstrip("\n").split("\r")[-1]
    assert "40/40" in last and "4 not ok" in last, last
    assert re.search(r" \d+(\.\d)? jobs/(s|min)( |,)", last), last


MAIN_CLASSES_SCRIPT = """
import dataclasses, enum
import procmap


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Colour(enum.Enum):
    RED = 1


def make(i):
    return Point(i, -i), Colour.RED


if __name__ == "__main__":
    # No `import multiprocessing` here: procmap must make __mp_main__ resolve.
    with procmap.Pool(procs=2) as pool:
        values = pool.map(make, range(4))
        assert values == [(Point(i, -i), Colour.RED) for i in range(4)], values
        assert all(type(p) is Point for p, _ in values)
    print("ok", flush=True)
"""


def test_values_of_classes_defined_in_the_main_script_come_back_as_themselves(script):
    # Issue 19, #2: workers import the script as __mp_main__, so its classes
    # pickle under that name; the parent must resolve it.
    proc = script(MAIN_CLASSES_SCRIPT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "ok", out + err


PRINTING_SCRIPT = """
import sys
import procmap, jobs

if __name__ == "__main__":
    with procmap.Pool(procs=2) as pool:
        print(pool.map(jobs.chatty, range(3)), flush=True)
"""


def test_what_the_function_prints_reaches_stderr_marked_with_its_worker(script):
    # Issue 19, frictions: a function's print() (and its stderr) is no
    # longer dropped; as with multiprocessing it reaches the user's stderr,
    # marked with the worker's pid, control characters escaped.
    proc = script(PRINTING_SCRIPT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "[0, 1, 2]", "a worker's print never reaches the caller's stdout"
    for i in range(3):
        assert re.search(rf"^\[procmap worker \d+\] item {i} on stdout$", err, re.M), err
        assert re.search(rf"^\[procmap worker \d+\] item {i} on stderr \\u{{1b}}\[2J$", err, re.M), err


def test_a_killed_pools_marker_directory_is_removed_by_the_next_pool():
    # A pool whose process was SIGKILLed cannot remove its directory of
    # marker files; the next pool removes it, as its process is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    stale = os.path.join(shm, f"procmap-marks-{dead.pid}-0")
    os.makedirs(stale)
    with open(os.path.join(stale, "1"), "wb") as f:
        f.write(bytes(8))
    with procmap.Pool(procs=1) as pool:
        assert pool.map(jobs.cube, [2]) == [8]
        mine = pool._core.marks
        assert os.path.basename(mine).startswith(f"procmap-marks-{os.getpid()}-")
    assert not os.path.exists(stale)
