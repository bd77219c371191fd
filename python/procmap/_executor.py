"""procmap.Executor: the concurrent.futures surface on procmap's engine."""

import atexit
import concurrent.futures
import os
import threading
import time
import weakref

from ._async import FutureSink
from ._calls import KIND_STAR, Call, Stream
from ._core import Core
from ._pool import Journal, _bytes, _chunksize, _count, _halt, _halt_policy
from ._progress import Progress
from ._spec import check_function, check_not_bootstrapping, task_name

_LIVE = weakref.WeakSet()


@atexit.register
def _python_exit():
    # As concurrent.futures.process: work submitted to an executor that was
    # never shut down still runs before the interpreter exits. (Registered
    # after _core's handler, so it runs before that one kills workers.)
    for executor in list(_LIVE):
        try:
            executor.shutdown(wait=True)
        except Exception:
            pass


class Executor(concurrent.futures.Executor):
    """A crash-proof ``concurrent.futures.Executor``: a drop-in for
    ``ProcessPoolExecutor`` that works with ``as_completed``, ``wait`` and
    ``asyncio``'s ``loop.run_in_executor``.

        with procmap.Executor(max_workers=4, timeout=60) as ex:
            future = ex.submit(cube, 3)
            for value in ex.map(cube, range(1000)):
                ...

    How it differs from ProcessPoolExecutor:
    - A worker that dies (segfault, ``os._exit``, the OOM killer) costs
      only the call that killed it, which raises ``procmap.WorkerCrashed``
      after ``retries + 1`` runs; the executor is never broken
      (ProcessPoolExecutor raises BrokenProcessPool for every pending
      future). ``timeout=`` kills a call that runs longer
      (``procmap.JobTimeout``); ``mem_limit=`` caps each worker's memory.
    - ``map`` pulls its iterables lazily, a few chunks ahead of the
      workers, instead of submitting everything at once, and sizes chunks
      from measured run times unless you pass ``chunksize``.
    - ``submit`` calls are chunked together as they come.

    Arguments: ``max_workers`` (default: one per CPU), ``initializer``,
    ``initargs``, ``max_tasks_per_child`` (counts chunks), and procmap's
    ``timeout``, ``retries`` (default 2), ``mem_limit``, ``stop_grace``,
    ``start_method``, ``capture``, ``mode``, ``journal`` and ``resume``,
    and for ``map`` ``halt`` and ``progress`` (see ``help(procmap.Pool)``).
    ``mode="auto"`` chooses the threads per worker process from what the
    calls do: one for CPU-bound Python, more for calls that wait (sleep,
    I/O, code that releases the GIL), with crash isolation kept;
    ``decisions`` says what it chose and why. A
    ``submit`` call's record has ``(args, kwargs)`` as its item; on a
    resume, a call already recorded ok is not run, and its Future gets the
    recorded value. Submitted calls hold the journal until they are all
    done, so a ``map`` that journals while some run raises ``PoolError``.
    ``capture="tail"`` needs a journal: it lands in the records, since
    futures give values, not Results;
    under ``capture="files=DIR"`` the ``submit`` calls are numbered 0, 1,
    ... in the order they were made, and each ``map`` call's items by their
    index in that call, so a later call's files replace an earlier one's of
    the same number.
    ``mp_context`` is accepted and ignored: ``start_method`` says how
    workers start.
    """

    def __init__(self, max_workers=None, mp_context=None, initializer=None, initargs=(), *,
                 max_tasks_per_child=None, timeout=None, retries=2, mem_limit=None, stop_grace=10.0,
                 start_method="auto", halt=None, journal=None, resume=False, progress=False, capture=None,
                 mode="process"):
        check_not_bootstrapping()
        if capture == "tail" and journal is None:
            # A future gives a value, not a Result: only a journal's records
            # have a place for the output.
            raise ValueError('procmap: Executor(capture="tail") needs a journal (futures give values, not '
                             'Results); use capture="files=DIR", or procmap.Pool(capture="tail")')
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"procmap: timeout must be positive seconds, got {timeout!r}")
        _count("retries", retries, 0)
        self._core = Core(
            procs=max_workers,
            retries=retries,
            timeout=None if timeout is None else float(timeout),
            mem_limit=_bytes(mem_limit),
            max_tasks_per_child=_count("max_tasks_per_child", max_tasks_per_child, 1),
            stop_grace=float(stop_grace),
            initializer=initializer,
            initargs=tuple(initargs),
            start_method=start_method,
            capture=capture,
            mode=mode,
        )
        self._halt = _halt_policy(halt)
        self._journal = Journal(journal, resume, auto=mode == "auto")
        self._progress = bool(progress)
        self._stream = Stream(self._core, journal=self._journal)
        self._shutdown = False
        self._lock = threading.Lock()
        _LIVE.add(self)

    @property
    def decisions(self):
        """Under ``mode="auto"``: what the executor chose so far, when and
        why, a list of ``AutoDecision(at, procs, threads, reason)`` (empty
        otherwise)."""
        return list(self._core.decisions)

    def submit(self, fn, /, *args, **kwargs):
        """Schedules ``fn(*args, **kwargs)``; returns its ``Future``."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            check_function(fn)
            future = concurrent.futures.Future()
            self._stream.put(FutureSink(future), fn, args, kwargs)
            return future

    def map(self, fn, *iterables, timeout=None, chunksize=None):
        """``fn(*args)`` for each tuple of the iterables, zipped: the values
        in input order, lazily. The first failed call raises its own
        exception (the worker's traceback as ``__cause__``) when the
        iterator reaches it; ``timeout`` (seconds, from this call) raises
        TimeoutError if a value is not ready by then."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        check_function(fn)
        deadline = None if timeout is None else time.monotonic() + timeout
        size = None if chunksize in (None, 1) and not isinstance(chunksize, bool) else _chunksize(chunksize)
        if chunksize == 1:
            size = None
        total = None
        if all(hasattr(it, "__len__") for it in iterables):
            total = min(len(it) for it in iterables)
        journal = self._journal.open()
        try:
            call = Call(self._core, fn, zip(*iterables), KIND_STAR, ordered=True, results=False, chunksize=size,
                        task=task_name(fn), deadline=deadline, halt=_halt(self._halt), journal=journal,
                        journal_path=self._journal.path, resume=self._journal.resume,
                        progress=Progress(total) if self._progress else None)
        except BaseException:
            if journal is not None:
                journal.finish()
            raise
        return iter(call)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No new calls; ``cancel_futures`` cancels the calls not yet sent
        to a worker; ``wait`` waits for the rest and the workers' exit."""
        with self._lock:
            self._shutdown = True
        self._stream.close(cancel=cancel_futures)
        self._core.close()
        if wait:
            self._core.join()
