"""One run of the engine over an iterable: feeding it pickled items from
this thread, yielding Results, and stopping it cleanly on Ctrl-C, on an
early ``break`` or on an error."""

import itertools
import sys

from . import _native, _spec
from ._progress import Progress

# How long one poll waits with the GIL released before this thread looks at
# its input and at Python signals again.
_POLL_SECONDS = 0.1


class Run:
    def __init__(self, pool, fn, items, chunksize):
        worker_arg, self.task = _spec.build(fn, pool._initializer, pool._initargs)
        # Before any worker starts: a non-iterable fails here, like a lambda.
        self.items = iter(items)
        journal = pool._journal
        append = pool._journal_opened and journal is not None
        self.native = _native.NativeRun(
            program=sys.executable,
            worker_args=["-m", "procmap._worker", worker_arg],
            task=self.task,
            procs=pool._procs,
            chunksize=_chunksize(chunksize if chunksize is not None else pool._chunksize),
            timeout=pool._timeout,
            retries=pool._retries,
            mem_limit=pool._mem_limit,
            max_tasks_per_child=pool._max_tasks_per_child,
            journal=journal,
            append=append,
            resume=pool._resume,
            stop_grace=pool._stop_grace,
        )
        if journal is not None:
            pool._journal_opened = True
        self.progress = Progress(len(items) if hasattr(items, "__len__") else None) if pool._progress else None
        # Items that could not be pickled, kept to show in their Result.
        self.unpicklable = {}
        self.count = 0
        # (index, hash, occurrence) of the items a resume skipped.
        self.skipped = []
        self.finished = False

    def _refill(self):
        room = self.native.room()
        if room == 0:
            return
        start = self.count
        items = list(itertools.islice(self.items, room))
        self.count += len(items)
        # One call for the batch: the extension writes each item as JSON,
        # or pickles it, and decides a resume's skips (see
        # crates/procmap-py/src/codec.rs).
        skipped, invalid = self.native.feed(start, items)
        self.skipped.extend(skipped)
        for index in invalid:
            self.unpicklable[index] = items[index - start]
        if len(items) < room:
            self.items = None
            self.native.close_input()

    def __iter__(self):
        try:
            while True:
                if self.items is not None:
                    self._refill()
                records = self.native.poll(_POLL_SECONDS)
                if records is None:
                    break
                if self.unpicklable:
                    for r in records:
                        if r.index in self.unpicklable:
                            r._set_item(self.unpicklable.pop(r.index))
                if self.progress:
                    self.progress.update(records)
                yield from records
        except BaseException as e:
            # Ctrl-C: like the CLI's first Ctrl-C, let jobs in flight finish
            # (up to the stop grace) and record them. An early `break`
            # (GeneratorExit) or any other error: kill the workers now.
            self.abort(kill=not isinstance(e, KeyboardInterrupt))
            raise
        self.finished = True
        if self.progress:
            self.progress.close()
        self.native.finish()

    def abort(self, kill):
        """Stops the run, journals what in-flight jobs still deliver, and
        waits for every worker to be gone. A second Ctrl-C meanwhile kills
        the workers at once."""
        if self.finished:
            return
        self.finished = True
        self.native.stop(kill=kill)
        while True:
            try:
                if self.native.poll(_POLL_SECONDS) is None:
                    break
            except KeyboardInterrupt:
                self.native.stop(kill=True)
            except _native.PoolError:
                break
        try:
            self.native.finish()
        except _native.PoolError:
            pass
        if self.progress:
            self.progress.close()


def _chunksize(value):
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"procmap: chunksize must be 'auto' or a positive int, got {value!r}")
    return value
