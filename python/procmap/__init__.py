"""procmap: a crash-proof process pool for Python functions.

``procmap.Pool`` is a drop-in for ``ProcessPoolExecutor.map`` and
``multiprocessing.Pool.imap_unordered`` in which a crash (segfault,
``os._exit``), a hang (``timeout``) or an out-of-memory (``mem_limit``) costs
only the item that caused it; every result can be written to a JSON Lines
journal and a run resumed from it.

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
process, its workers are ``python -m procmap._worker`` processes. See
``help(procmap.Pool)`` and ``help(procmap.Result)``.
"""

from ._native import PoolError
from ._pool import Pool
from ._result import JobFailed, Result, read_journal
from ._tasks import task

__all__ = ["Pool", "Result", "JobFailed", "PoolError", "read_journal", "task"]
