"""The pool under test in the ported stdlib tests, chosen by the environment
variable PROCMAP_TEST_AGAINST:

- ``stdlib``: ``multiprocessing.get_context("fork").Pool`` and
  ``concurrent.futures.ProcessPoolExecutor`` (fork), so that the ported tests
  are first checked against the behaviour they copy;
- ``procmap`` (the default): ``procmap.Pool`` and ``procmap.Executor``.

procmap is imported only when it is the pool under test, so the stdlib mode
runs without the extension built.

Where procmap differs from the stdlib on purpose (the tests use the helpers
below, or branch on STDLIB where a test asserts each side's behaviour):

- ``imap``/``imap_unordered``: procmap yields ``procmap.Result`` objects
  unless asked for plain values with ``results=False``;
- a worker that dies: procmap fails only that item, with
  ``procmap.WorkerCrashed``, and keeps working; the stdlib's executor breaks
  (``BrokenProcessPool``) and its Pool never completes the item;
- an input that raises part-way: procmap runs and yields every item it had
  pulled before raising, the stdlib's imap drops the last, incomplete chunk
  (``yielded_before_input_error``);
- ``retries``, and workers started only when there is work, are procmap's own:
  tests of them are skipped under the stdlib (``procmap_only``).
"""

import concurrent.futures
import multiprocessing
import os
import threading
import time

import pytest

AGAINST = os.environ.get("PROCMAP_TEST_AGAINST", "procmap")
if AGAINST not in ("stdlib", "procmap"):
    raise RuntimeError(f"PROCMAP_TEST_AGAINST is {AGAINST!r}; it must be 'stdlib' or 'procmap'")
STDLIB = AGAINST == "stdlib"

# The bound of every wait on a result in these tests: generous, since a wait
# that passes returns as soon as the result is there.
TIMEOUT = 60.0


def make_pool(processes=2, **kwargs):
    """A multiprocessing.Pool-like pool with `processes` workers."""
    if STDLIB:
        return multiprocessing.get_context("fork").Pool(processes=processes, **kwargs)
    import procmap

    return procmap.Pool(processes=processes, **kwargs)


def make_executor(max_workers=2, **kwargs):
    """A concurrent.futures.Executor backed by processes."""
    if STDLIB:
        # The stdlib refuses max_tasks_per_child with fork (a forked worker
        # could inherit a lock held at fork time); forkserver is the other
        # start method that is cheap per worker.
        method = "forkserver" if kwargs.get("max_tasks_per_child") else "fork"
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=max_workers, mp_context=multiprocessing.get_context(method), **kwargs
        )
    import procmap

    return procmap.Executor(max_workers=max_workers, **kwargs)


def imap(pool, fn, iterable, *args, **kwargs):
    """pool.imap yielding plain values (procmap: ``results=False``)."""
    if not STDLIB:
        kwargs["results"] = False
    return pool.imap(fn, iterable, *args, **kwargs)


def imap_unordered(pool, fn, iterable, *args, **kwargs):
    """pool.imap_unordered yielding plain values (procmap: ``results=False``)."""
    if not STDLIB:
        kwargs["results"] = False
    return pool.imap_unordered(fn, iterable, *args, **kwargs)


def yielded_before_input_error(when, chunksize):
    """How many results imap yields before it raises the exception of an
    input that fails in place of item `when`. The stdlib drops the chunk the
    failure cut short; procmap runs every item it pulled (issue 18: lossless
    failure paths)."""
    return when - when % chunksize if STDLIB else when


def worker_crashed():
    """The exception a dead worker's item raises under procmap."""
    import procmap

    return procmap.WorkerCrashed


def procmap_only(reason):
    """Marks a test of a behaviour the stdlib pools do not have."""
    return pytest.mark.skipif(STDLIB, reason=f"procmap's own behaviour, not the stdlib's: {reason}")


def stdlib_only(reason):
    """Marks a test of a stdlib behaviour that procmap deliberately does
    not copy; the README names each difference."""
    return pytest.mark.skipif(not STDLIB, reason=f"a deliberate difference of procmap's: {reason}")


def bounded(call, what, timeout=TIMEOUT):
    """Runs call() on a thread and fails if it has not returned within
    `timeout` seconds: a fixture's cleanup must not hang the whole run when a
    pool under test deadlocks."""
    errors = []

    def run():
        try:
            call()
        except BaseException as e:  # handed to the test's thread
            errors.append(e)

    thread = threading.Thread(target=run, name=f"bounded {what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{what} did not return within {timeout} s")
    if errors:
        raise errors[0]


def wait_until(predicate, what, timeout=TIMEOUT):
    """Polls predicate() until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.01)
