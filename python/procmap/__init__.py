"""procmap: a crash-proof process pool for Python functions.

``procmap.Pool`` has the ``multiprocessing.Pool`` surface and
``procmap.Executor`` is a ``concurrent.futures.Executor``; in both a crash
(segfault, ``os._exit``), a hang (``timeout``) or an out-of-memory
(``mem_limit``) costs only the item that caused it, and every result can be
written to a JSON Lines journal and a run resumed from it.

    import procmap

    def cube(x):
        return x ** 3

    if __name__ == "__main__":
        with procmap.Pool(procs=4, timeout=60, journal="results.jsonl") as pool:
            for r in pool.imap_unordered(cube, range(1000)):
                if r.ok:
                    print(r.item, r.value)
                else:
                    print(r.item, r.status, r.error)

The pool is procmap's Rust engine: its supervisor runs on threads of this
process, its workers are ``python -m procmap._worker`` processes that live
as long as the pool. See ``help(procmap.Pool)``, ``help(procmap.Executor)``
and ``help(procmap.Result)``.
"""

import sys as _sys

from ._native import PoolError
from ._pool import Pool
from ._result import Halted, JobFailed, JobTimeout, RemoteTraceback, Result, WorkerCrashed, read_journal, report
from ._tasks import task

# As multiprocessing does: a worker imports the main script as __mp_main__,
# so a class defined there pickles under that name; let it unpickle here.
if "__main__" in _sys.modules and "__mp_main__" not in _sys.modules:
    _sys.modules["__mp_main__"] = _sys.modules["__main__"]



def __getattr__(name):
    # Executor is a concurrent.futures.Executor, and concurrent.futures
    # (with logging) costs ~15 ms to import: a script that uses only Pool
    # should not pay it. It is imported on first use.
    if name == "Executor":
        from ._executor import Executor

        return Executor
    raise AttributeError(f"module 'procmap' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "Executor"])


__all__ = [
    "Pool",
    "Executor",
    "Result",
    "JobFailed",
    "WorkerCrashed",
    "JobTimeout",
    "Halted",
    "RemoteTraceback",
    "PoolError",
    "read_journal",
    "report",
    "task",
]
