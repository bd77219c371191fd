"""procmap.Pool: the user-facing pool."""

import os
import re
import weakref

from . import _native
from ._result import JobFailed
from ._run import Run, _chunksize
from ._spec import check_not_bootstrapping

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bytes(value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(value), re.IGNORECASE)
    if not m:
        raise ValueError(f"procmap: mem_limit must be bytes or a size like '512M' or '2G', got {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


class Pool:
    """A crash-proof process pool: a drop-in for
    ``ProcessPoolExecutor.map`` and ``multiprocessing.Pool.imap_unordered``.

        with procmap.Pool(procs=8, timeout=60, retries=2, journal="results.jsonl") as pool:
            for r in pool.imap_unordered(generate_rgb, images):
                if r.ok:
                    use(r.value)
                else:
                    print(r.item, r.status, r.error)
            values = pool.map(cube, range(1000))

    Options (all keyword arguments):
        procs:     worker processes (default: one per CPU).
        chunksize: items sent to a worker at a time: "auto" (default) sizes
                   chunks from measured run times; an int fixes it. Either
                   way a crash is pinned on the one item that caused it.
        timeout:   seconds one item may run; a longer one is killed with its
                   worker and recorded as "timeout" (default: none).
        retries:   how many more times an item that killed its worker is run
                   before it is recorded as "crashed" (default 2). Items
                   that merely shared the dead worker's chunk are rerun
                   without counting against them.
        mem_limit: a cap on each worker's memory (RLIMIT_DATA), in bytes or
                   as "512M", "4G". An allocation beyond it raises
                   MemoryError in the function: that item's "error".
        max_tasks_per_child: replace each worker after this many items.
        journal:   a path: every item's result is appended to it as a JSON
                   Lines record as soon as it arrives, in the format of the
                   command line's journal (`supervisor status` and
                   `supervisor merge` read it; procmap.read_journal reads
                   it back). An item (args[0]) and a value ("value") that
                   round-trip exactly through JSON are written as JSON
                   (None, bool, int within 64 bits, finite float, str, and
                   lists and dicts of those, a dict's str keys in sorted
                   order); anything else is pickled: the item as
                   "pickle:<base64>", the value as {"$pickle": "<base64>"}.
                   The first run of a Pool truncates it unless resume=True;
                   later runs of the same Pool append. A run holds a lock
                   on it: a second run writing it at the same time, from
                   this process or another, raises PoolError.
        resume:    with a journal, skip the items that already have an "ok"
                   record there (failed ones run again). An item is
                   recognised by the function's name and its content (its
                   JSON or pickle text), not by its index: an edited item is
                   a new one, and equal items are told apart by their order.
                   A torn last line (the writer was killed mid-write) is
                   cut off first. Skipped items are not yielded by
                   imap_unordered (map takes their values from the
                   journal).
        progress:  True for a progress bar on stderr.
        initializer, initargs: run initializer(*initargs) once in each
                   worker before it takes items, as in ProcessPoolExecutor.
        stop_grace: seconds jobs in flight may still run after Ctrl-C
                   (default 10); a second Ctrl-C kills them at once.

    Functions are found as ProcessPoolExecutor (spawn) finds them: by
    module and qualified name. A function defined in the main script works:
    each worker imports the script as "__mp_main__", so its
    ``if __name__ == "__main__":`` block does not run. A lambda or a nested
    function raises TypeError before any worker starts. Items and return
    values travel as JSON when they round-trip exactly through it, else
    pickled (see journal).

    Failures are values: ``imap_unordered`` yields one ``procmap.Result`` per
    item (see ``help(procmap.Result)``) and never raises because an item
    failed. ``map`` returns values in input order and, after the whole run
    is recorded, raises ``procmap.JobFailed`` for the first failed item
    (``return_failures=True`` puts failed items' Results in the list
    instead). ``procmap.PoolError`` means the pool itself could not run,
    e.g. workers could not start (their stderr is in the message).

    The input is streamed: a generator of millions of items is pulled as
    workers need it, never held in memory. The engine's threads never hold
    the GIL while they wait. Ctrl-C stops the run cleanly: no new items are
    started, items in flight finish within stop_grace and are journaled,
    workers are gone, and KeyboardInterrupt is raised. Breaking out of
    ``imap_unordered`` early, or leaving the ``with`` block, kills the
    workers of unfinished runs.

    Each ``imap_unordered`` or ``map`` call starts its own workers, which
    end with the call.
    """

    def __init__(
        self,
        procs=None,
        *,
        chunksize="auto",
        timeout=None,
        retries=2,
        mem_limit=None,
        max_tasks_per_child=None,
        journal=None,
        resume=False,
        progress=False,
        initializer=None,
        initargs=(),
        stop_grace=10.0,
    ):
        check_not_bootstrapping()
        if procs is None:
            procs = os.cpu_count() or 1
        if isinstance(procs, bool) or not isinstance(procs, int) or procs < 1:
            raise ValueError(f"procmap: procs must be a positive int, got {procs!r}")
        _chunksize(chunksize)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"procmap: timeout must be positive seconds, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"procmap: retries must be an int >= 0, got {retries!r}")
        if resume and journal is None:
            raise ValueError("procmap: resume=True needs a journal")
        self._procs = procs
        self._chunksize = chunksize
        self._timeout = None if timeout is None else float(timeout)
        self._retries = retries
        self._mem_limit = _bytes(mem_limit)
        self._max_tasks_per_child = max_tasks_per_child
        self._journal = None if journal is None else os.fspath(journal)
        self._journal_opened = False
        self._resume = bool(resume)
        self._progress = bool(progress)
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._stop_grace = float(stop_grace)
        self._runs = weakref.WeakSet()
        self._closed = False

    def imap_unordered(self, fn, items, chunksize=None):
        """Calls ``fn(item)`` for every item in worker processes and yields a
        ``procmap.Result`` per item, in completion order, as results arrive.
        A failing item is a Result with ``ok`` False; nothing is raised for
        it. ``chunksize`` overrides the pool's for this call."""
        return iter(self._start(fn, items, chunksize))

    def map(self, fn, items, chunksize=None, *, return_failures=False):
        """Calls ``fn(item)`` for every item and returns the values in input
        order, like ``ProcessPoolExecutor.map``, but only after every item
        has run and been recorded. If any item failed, raises
        ``procmap.JobFailed`` for the first one in input order (its
        ``.result`` has the details), unless ``return_failures=True``: then
        a failed item's place in the list holds its ``procmap.Result``."""
        run = self._start(fn, items, chunksize)
        results = {}
        for r in run:
            results[r.index] = r
        if run.skipped:
            self._fill_from_journal(run, results)
        out = []
        failures = [results[i] for i in range(run.count) if not results[i].ok]
        if failures and not return_failures:
            raise JobFailed(failures[0], len(failures))
        for i in range(run.count):
            r = results[i]
            out.append(r.value if r.ok else r)
        return out

    def _fill_from_journal(self, run, results):
        # The latest record of each skipped item's identity (function name,
        # item content and occurrence), wherever the item stood then.
        for r in _native.recall(self._journal, run.skipped):
            results[r.index] = r

    def _start(self, fn, items, chunksize):
        if self._closed:
            raise ValueError("procmap: the pool is closed")
        run = Run(self, fn, items, chunksize)
        self._runs.add(run)
        return run

    def close(self, *, kill=True):
        """Stops any run not finished yet (an abandoned imap_unordered) and
        waits for its workers to be gone: at once, or with ``kill=False``
        after jobs in flight finish (within stop_grace) and are journaled.
        The pool cannot be used after."""
        self._closed = True
        for run in list(self._runs):
            run.abort(kill=kill)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # Ctrl-C in the body of the user's loop stops like Ctrl-C inside
        # the pool: in-flight jobs finish and are recorded.
        self.close(kill=not (exc_type is not None and issubclass(exc_type, KeyboardInterrupt)))
        return False
