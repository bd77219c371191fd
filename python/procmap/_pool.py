"""procmap.Pool: the multiprocessing.Pool surface on procmap's engine."""

import os
import threading

from . import _native
from ._async import AsyncResult
from ._calls import KIND_ONE, KIND_STAR, Call, Stream, _Failure
from ._core import Core
from ._progress import Progress
from ._spec import check_function, check_not_bootstrapping, task_name

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bytes(value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    import re  # only for a mem_limit given as text

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(value), re.IGNORECASE)
    if not m:
        raise ValueError(f"procmap: mem_limit must be bytes or a size like '512M' or '2G', got {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _chunksize(value):
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"procmap: chunksize must be 'auto' or a positive int, got {value!r}")
    return value


def _count(name, value, minimum):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"procmap: {name} must be an int >= {minimum}, got {value!r}")
    return value


class Journal:
    """A pool's journal= and resume=, for Pool and Executor alike: each
    call opens the journal for itself (locked while it runs); the pool's
    first opening truncates it unless resume=True, later ones append. The
    pool's stream of submit()/apply_async() calls (its ``holder``) keeps it
    open between calls, and lets a map() have it when none is running."""

    def __init__(self, path, resume, auto=False):
        if resume and path is None:
            raise ValueError("procmap: resume=True needs a journal")
        self.path = None if path is None else os.fspath(path)
        self.resume = bool(resume)
        # mode="auto": each segment's header says so.
        self.auto = auto
        self._opened = False
        self._lock = threading.Lock()
        self.holder = None

    def open(self, holder=None):
        """A call's NativeJournal, or None without a journal. ``holder`` is
        the stream that opens it for its calls."""
        if self.path is None:
            return None
        stream = self.holder
        # Outside self._lock: the stream opens the journal under its own
        # lock, then takes this one.
        if stream is not None and stream is not holder and not stream.release_journal():
            raise _native.PoolError(
                f"procmap: journal {self.path} is held by this pool's submit()/apply_async() calls, which are "
                f"still running; a map() that journals waits for none of them: wait for their results first, "
                f"or run the map() on another pool")
        with self._lock:
            journal = _native.NativeJournal(self.path, self._opened, self.resume, self.auto)
            self._opened = True
            if holder is not None:
                self.holder = holder
        return journal


def _halt_policy(policy):
    """Checks a halt= policy now, so a bad one fails at the pool's
    creation, not at its first call."""
    if policy is None:
        return None
    if not isinstance(policy, str):
        raise TypeError(f"procmap: halt must be a string such as 'soon,fail=3', got {policy!r}")
    _native.NativeHalt(policy)
    return policy


def _halt(policy):
    """Each call counts its own items."""
    return None if policy is None else _native.NativeHalt(policy)


class Pool:
    """A crash-proof process pool with the ``multiprocessing.Pool`` surface:
    ``map``, ``imap``, ``imap_unordered``, ``starmap``, ``apply``,
    ``apply_async``, ``map_async``, ``starmap_async``, ``close``, ``join``,
    ``terminate``, and the context manager.

        with procmap.Pool(procs=8, timeout=60, retries=2, journal="results.jsonl") as pool:
            for r in pool.imap_unordered(generate_rgb, images):
                if r.ok:
                    use(r.value)
                else:
                    print(r.item, r.status, r.error)
            values = pool.map(cube, range(1000))

    How it differs from multiprocessing.Pool:
    - A crash (segfault, ``os._exit``), a hang (``timeout``) or running out
      of memory (``mem_limit``) costs only the item that caused it; the pool
      and every other item go on. Where a value is expected, such an item
      raises ``procmap.WorkerCrashed`` or ``procmap.JobTimeout``.
    - ``imap`` and ``imap_unordered`` yield a ``procmap.Result`` per item by
      default, and never raise for a failed item; pass ``results=False``
      for plain values and the item's own exception, exactly as
      multiprocessing's do.
    - The input is pulled as workers need it, a few chunks ahead, never
      swallowed whole; ``chunksize="auto"`` (the default) sizes chunks from
      measured run times.
    - Workers start with the first item (none for an empty input) and
      serve every later call, as multiprocessing's do; they are forked from
      a template of this process made when the pool is created, or spawned
      (see start_method).
    - ``maxtasksperchild`` counts chunks, as multiprocessing's counts tasks.
    - A journal records every item's result as it arrives, and a run can be
      resumed from it.

    Options (keyword arguments, after multiprocessing's four):
        processes: worker processes (default: one per CPU); ``procs`` is
                   the same.
        initializer, initargs: run initializer(*initargs) once in each
                   worker before it takes items.
        maxtasksperchild: replace each worker after this many chunks
                   (``max_tasks_per_child`` is the same).
        chunksize: items sent to a worker at a time: "auto" (default) or an
                   int; a call's own chunksize overrides it. Either way a
                   crash is pinned on the one item that caused it.
        timeout:   seconds one item may run; a longer one is killed with its
                   worker and recorded as "timeout" (default: none). Items
                   then travel one per chunk, each on its own clock.
        retries:   how many more times an item that killed its worker is run
                   before it is recorded as "crashed" (default 2): an item
                   runs at most retries + 1 times. Items that merely shared
                   the dead worker's chunk are rerun without counting
                   against them.
        mem_limit: a cap on each worker's memory (RLIMIT_DATA), in bytes or
                   as "512M", "4G". An allocation beyond it raises
                   MemoryError in the function: that item's "error".
        journal:   a path: every item's result (of map, imap,
                   imap_unordered, starmap, and apply_async, whose item is
                   (args, kwargs)) is appended
                   to it as a JSON Lines record as soon as it arrives, in the
                   format of the command line's journal (`supervisor status`
                   and `supervisor merge` read it; procmap.read_journal reads
                   it back). An item (args[0]) and a value ("value") that
                   round-trip exactly through JSON are written as JSON
                   (None, bool, int within 64 bits, finite float, str, and
                   lists and dicts of those, a dict's str keys in sorted
                   order); anything else is pickled: the item as
                   "pickle:<base64>", the value as {"$pickle": "<base64>"}.
                   The first call of a Pool truncates it unless
                   resume=True; later calls append. A call holds a lock on
                   it: a second call writing it at the same time, from this
                   process or another, raises PoolError. apply_async calls
                   hold it from the first until the pool closes, and let a
                   map have it while none of them is queued or running.
        resume:    with a journal, skip the items that already have an "ok"
                   record there (failed ones run again). An item is
                   recognised by the function's name and its content (its
                   JSON or pickle text), not by its index: an edited item is
                   a new one, and equal items are told apart by their order.
                   A torn last line (the writer was killed mid-write) is
                   cut off first. imap_unordered does not yield skipped
                   items; map and imap take their values from the journal,
                   and so does a skipped apply_async call's AsyncResult.
        capture:   what becomes of what the function prints (stdout and
                   stderr, Python's print() and C code's alike). "none"
                   (default): it reaches this process's stderr as it comes,
                   a line at a time, marked "[procmap worker PID]", as a
                   multiprocessing pool's workers' would. "tail": the last
                   4 KiB of each stream go into the item's Result
                   (.stdout, .stderr) and its journal record, and are not
                   shown. "files=DIR": all of it goes to DIR/INDEX.out and
                   DIR/INDEX.err (INDEX is the item's index in its call; a
                   later call's item of the same index replaces them; a
                   stream with nothing leaves no file; DIR is created).
                   Each item's output is its own because a worker runs one
                   item at a time. What an item's child process prints after
                   the item returned goes to the next item that prints.
        mode:      "process" (default): each worker process runs one item at
                   a time. "auto": the pool measures what the items do and
                   chooses the threads per worker as it goes, as the command
                   line's --mode auto does. Items that use at least 15% of
                   a CPU while they run (Python code, which holds the GIL)
                   keep one thread per worker, one worker per CPU: exactly
                   "process". Items that wait (time.sleep, network and disk
                   I/O, numpy and other code that releases the GIL) get more
                   threads per worker: a first guess from the measured share
                   of a CPU, then doubled while throughput rises by 10% and
                   taken back when it does not (at most 64). Crash isolation
                   stays: items run in worker processes, and a crash costs
                   only its culprit. When several items were running in the
                   dead worker, each counts the run and is rerun in a worker
                   that runs nothing else, until one dies alone; an item is
                   recorded as crashed only when it died alone, so an
                   innocent never is, and a culprit is within retries + 1
                   runs (with retries=0, two). What differs from "process":
                   the function runs on several threads of a worker at once
                   and must be thread-safe; capture= other than "none" is
                   refused (threads share one stdout and stderr); a worker's
                   threads share its mem_limit; a timeout kills the worker
                   with the items beside the slow one (they rerun,
                   uncounted). What it chose, when and why is the pool's
                   ``decisions`` (AutoDecision(at, procs, threads, reason)),
                   each also logged at INFO on the "procmap" logger.
        progress:  True for a progress bar on stderr.
        halt:      stop a call early when its batch is clearly broken, as
                   the command line's --halt (GNU parallel's semantics):
                   "soon,fail=N" (N items not ok), "soon,fail=P%" (that
                   share, once 20 items have finished), "soon,success=N",
                   or "now,..." for the same conditions. "soon" pulls no
                   further item and lets the chunks already handed to the
                   workers finish; "now" kills the workers at once (as
                   terminate() does: other calls running on this pool at
                   that moment fail with PoolError). Either way the results
                   that arrived are yielded and journaled, then
                   procmap.Halted is raised; resume=True finishes the
                   batch. Applies to map, imap, imap_unordered and starmap,
                   each call counting its own items; not to apply_async.
        stop_grace: seconds items in flight may still run after Ctrl-C
                   (default 10); a second Ctrl-C kills them at once.
        start_method: how workers start. "fork": from a template process
                   forked from this one when the pool is created, so a
                   worker costs a fork and has every module this process
                   had imported; "spawn": fresh interpreters that import
                   your main script as "__mp_main__" (as
                   multiprocessing's spawn). "auto" (default) is fork
                   while this process runs no other Python thread and no
                   other procmap pool's engine, spawn otherwise. Either
                   way each worker has its own process group and limits.

    Functions are found as ProcessPoolExecutor finds them: by module and
    qualified name, sent with each chunk (a forked worker has your main
    script's functions already; a spawned one imports the script as
    "__mp_main__"). A lambda or a nested
    function raises TypeError before anything runs. Items and values are
    pickled, a chunk at a time; each may be up to 256 MiB pickled.

    Ctrl-C stops cleanly: no new items start, items in flight finish within
    stop_grace and are journaled, workers are gone, and KeyboardInterrupt
    is raised; the pool starts fresh workers for its next call. Breaking
    out of an ``imap`` loop stops pulling its input; the chunks already in
    flight finish and are journaled. Leaving the ``with`` block terminates
    the pool, as multiprocessing's does.
    """

    def __init__(
        self,
        processes=None,
        initializer=None,
        initargs=(),
        maxtasksperchild=None,
        *,
        procs=None,
        chunksize="auto",
        timeout=None,
        retries=2,
        mem_limit=None,
        max_tasks_per_child=None,
        journal=None,
        resume=False,
        progress=False,
        stop_grace=10.0,
        start_method="auto",
        halt=None,
        capture=None,
        mode="process",
    ):
        check_not_bootstrapping()
        if processes is not None and procs is not None and processes != procs:
            raise ValueError("procmap: give processes or procs, not both")
        procs = processes if processes is not None else procs
        if procs is None:
            procs = os.cpu_count() or 1
        if isinstance(procs, bool) or not isinstance(procs, int) or procs < 1:
            raise ValueError(f"procmap: procs must be a positive int, got {procs!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"procmap: timeout must be positive seconds, got {timeout!r}")
        _count("retries", retries, 0)
        if maxtasksperchild is not None and max_tasks_per_child is not None:
            raise ValueError("procmap: give maxtasksperchild or max_tasks_per_child, not both")
        max_tasks = _count("maxtasksperchild", maxtasksperchild if maxtasksperchild is not None else max_tasks_per_child, 1)
        if initializer is not None and not callable(initializer):
            raise TypeError("procmap: initializer must be a callable")
        self._procs = procs
        self._chunksize = _chunksize(chunksize)
        self._journal = Journal(journal, resume, auto=mode == "auto")
        self._progress = bool(progress)
        self._halt = _halt_policy(halt)
        self._core = Core(
            procs=procs,
            retries=retries,
            timeout=None if timeout is None else float(timeout),
            mem_limit=_bytes(mem_limit),
            max_tasks_per_child=max_tasks,
            stop_grace=float(stop_grace),
            initializer=initializer,
            initargs=tuple(initargs),
            start_method=start_method,
            capture=capture,
            mode=mode,
        )
        self._stream = None
        self._lock = threading.Lock()
        self._state = "run"

    @property
    def decisions(self):
        """Under ``mode="auto"``: what the pool chose so far, when and why,
        a list of ``AutoDecision(at, procs, threads, reason)``, the first
        decision and every change (empty otherwise)."""
        return list(self._core.decisions)

    def _check_running(self):
        if self._state != "run":
            raise ValueError("Pool not running")

    def _call(self, fn, items, kind, *, ordered, results, chunksize=None, deadline=None):
        self._check_running()
        check_function(fn)
        chunksize = _chunksize(chunksize) if chunksize is not None else self._chunksize
        total = len(items) if hasattr(items, "__len__") else None
        task = task_name(fn)
        journal = self._journal.open()
        progress = Progress(total) if self._progress else None
        try:
            return Call(self._core, fn, items, kind, ordered=ordered, results=results, chunksize=chunksize,
                        task=task, journal=journal, journal_path=self._journal.path, resume=self._journal.resume,
                        progress=progress, total=total, deadline=deadline, halt=_halt(self._halt))
        except BaseException:
            if journal is not None:
                journal.finish()
            raise

    def imap(self, func, iterable, chunksize=None, *, results=True):
        """Calls ``func(item)`` for every item in worker processes and yields
        the outcomes in input order, lazily, as they arrive: a
        ``procmap.Result`` per item (``results=False``: the value, and the
        item's own exception when the loop reaches a failed item, as
        multiprocessing's imap). An input iterable that raises: the items
        already pulled run and are yielded first, then its exception is
        raised."""
        return iter(self._call(func, iterable, KIND_ONE, ordered=True, results=results, chunksize=chunksize))

    def imap_unordered(self, func, iterable, chunksize=None, *, results=True):
        """As ``imap``, in completion order: a ``procmap.Result`` per item,
        whose ``index`` is its place in the input (``results=False``:
        values, as multiprocessing's imap_unordered). A failing item is a
        Result with ``ok`` False; nothing is raised for it."""
        return iter(self._call(func, iterable, KIND_ONE, ordered=False, results=results, chunksize=chunksize))

    def map(self, func, iterable, chunksize=None, *, return_failures=False):
        """Calls ``func(item)`` for every item and returns the values in input
        order, after every item has run and been recorded. If an item
        failed, raises the first one's exception in input order: its own,
        with the worker's traceback as ``__cause__``, or
        ``procmap.WorkerCrashed``/``JobTimeout`` (``return_failures=True``
        puts failed items' Results in the list instead)."""
        return self._gather(func, iterable, KIND_ONE, chunksize, return_failures)

    def starmap(self, func, iterable, chunksize=None, *, return_failures=False):
        """As ``map``, calling ``func(*args)`` for each tuple of arguments."""
        return self._gather(func, iterable, KIND_STAR, chunksize, return_failures)

    def _gather(self, func, iterable, kind, chunksize, return_failures):
        return self._values(self._call(func, iterable, kind, ordered=True, results=False, chunksize=chunksize),
                            return_failures)

    @staticmethod
    def _values(call, return_failures):
        # Plain values, failures as _Failure: no Result per item (which
        # cost map twice the stdlib's time on small items).
        out = []
        first = None
        for batch, checked in call.batches():
            if checked:
                for k, v in enumerate(batch):
                    if type(v) is _Failure:
                        if first is None:
                            first = v
                        batch[k] = v.result
            out += batch
        if first is not None and not return_failures:
            raise first.exception()
        return out

    def apply(self, func, args=(), kwds={}):
        """``func(*args, **kwds)`` in a worker; its value, or its exception."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        """As multiprocessing's: an ``AsyncResult`` for ``func(*args,
        **kwds)``. Calls made this way are chunked together as they come."""
        self._check_running()
        check_function(func)
        result = AsyncResult(callback, error_callback)
        with self._lock:
            if self._stream is None:
                self._stream = Stream(self._core, journal=self._journal)
            stream = self._stream
        stream.put(result, func, tuple(args), dict(kwds))
        return result

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """``map`` on a thread of its own: an ``AsyncResult`` of the list."""
        return self._async(KIND_ONE, func, iterable, chunksize, callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """``starmap`` on a thread of its own: an ``AsyncResult`` of the list."""
        return self._async(KIND_STAR, func, iterable, chunksize, callback, error_callback)

    def _async(self, kind, func, iterable, chunksize, callback, error_callback):
        self._check_running()
        check_function(func)
        if not hasattr(iterable, "__len__"):
            iterable = list(iterable)
        # The call is made here, not on the thread: a close() right after
        # map_async() must find it among the pool's calls, and wait for it,
        # as multiprocessing's does (made on the thread, it sometimes came
        # after close() and was refused).
        call = self._call(func, iterable, kind, ordered=True, results=False, chunksize=chunksize)
        result = AsyncResult(callback, error_callback)

        def run():
            try:
                value = self._values(call, False)
            except BaseException as e:
                result.fail(e)
            else:
                result.succeed(value)

        threading.Thread(target=run, name="procmap-map-async", daemon=True).start()
        return result

    def close(self):
        """No more calls; workers exit once the calls made are done."""
        if self._state == "run":
            self._state = "close"
            if self._stream is not None:
                self._stream.close()
            self._core.close()

    def join(self):
        """Waits for the workers to exit, after ``close`` or ``terminate``."""
        if self._state == "run":
            raise ValueError("Pool is still running")
        self._core.join()

    def terminate(self):
        """Stops now: workers are killed, unfinished calls fail."""
        self._state = "terminate"
        if self._stream is not None:
            self._stream.close(cancel=True)
        self._core.terminate()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc, tb):
        # Ctrl-C in the body of the user's loop stops like Ctrl-C inside
        # the pool: in-flight items finish and are recorded.
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self._core.stop(kill=False)
        self.terminate()
        return False
