"""One call on a pool: its items pulled in chunks, its results handed out.

``Call`` serves map, imap, imap_unordered and starmap: it pulls items from
the user's iterable a chunk at a time, only while fewer than ``window``
chunks are in flight and fewer than ``limit`` results wait to be taken, so
that memory stays flat whatever the input's length. ``Stream`` serves
submit and apply_async: a queue of single calls, chunked as they come.

Both run on three threads: the caller's (which pulls the first chunks and
takes results), the collector's (``on_chunk``: unpickles a chunk's results,
journals them, decides what a dead worker's chunk becomes, and pulls more
items), and the engine's, which never touches Python. One re-entrant
condition per call guards its state; the core's lock is only ever taken
inside it, never the other way round.
"""

import collections
import itertools
import pickle
import threading
import time

from . import _native
from ._blame import ALONE, FAIL, RERUN, after_death
from ._result import Halted, JobFailed, JobTimeout, RemoteTraceback, WorkerCrashed
from ._spec import task_name

# Work per chunk that chunksize="auto" aims at, as the engine's own
# (crates/procmap/src/input/chunking.rs): a chunk's round trip costs tens of
# microseconds, so 10 ms keeps it well under 1%.
_TARGET_NS = 10_000_000
_MAX_CHUNK = 4096

KIND_ONE = 0  # fn(item)
KIND_STAR = 1  # fn(*item)
KIND_APPLY = 2  # item = (fn, args, kwargs)


class _Failure:
    """A failed item where a value is expected; raised as its exception."""

    __slots__ = ("result", "exc_bytes", "local")

    def __init__(self, result, exc_bytes=None, local=None):
        self.result = result
        self.exc_bytes = exc_bytes
        # An exception raised here, in the parent (pickling the item).
        self.local = local

    def exception(self):
        r = self.result
        if self.local is not None:
            return self.local
        exc = None
        if self.exc_bytes is not None:
            try:
                exc = pickle.loads(self.exc_bytes)
            except Exception:
                exc = None
            if not isinstance(exc, BaseException):
                exc = None
        if exc is None:
            cls = {"crashed": WorkerCrashed, "timeout": JobTimeout}.get(r.status, JobFailed)
            return cls(r)
        # As concurrent.futures: the worker's side of the story is the
        # cause (the summary alone when no Python frame was involved).
        exc.__cause__ = RemoteTraceback(r.traceback or r.error or "")
        return exc


def _split_error(text):
    mark = "\n\nTraceback (most recent call last):\n"
    if text and mark in text:
        summary, rest = text.split(mark, 1)
        return summary, "Traceback (most recent call last):\n" + rest
    return text, None


class _Base:
    """What a call and a stream share: chunks out, results in."""

    def __init__(self, core, fn, kind, *, chunksize, window, journal=None, task=None, progress=None):
        self.core = core
        self.fn = fn
        self.kind = kind
        self.task = task
        self.journal = journal
        self.progress = progress
        self.cond = threading.Condition(threading.RLock())
        self.inflight = 0
        # Chunks handed to the engine and not yet back.
        self.window = window
        self.chunksize = 1 if core.timeout is not None else chunksize
        self.error = None
        self.done = False
        self.abandoned = False
        core.begin(self)

    # Sizing

    def _size(self, total=None):
        if self.chunksize is not None:
            return self.chunksize
        ns, last = self.core.pace.get(self.task, (None, 1))
        if ns is None and total is not None and not self.core.auto:
            # Nothing measured yet, but the input's length is known: as
            # Pool.map, start at its share (capped below) rather than ramp up.
            # (Not under auto: items that wait would all sit in the few
            # chunks of the first workers' threads.)
            size = last = _MAX_CHUNK
        else:
            size = 1 if ns is None else max(1, min(_MAX_CHUNK, int(_TARGET_NS / max(ns, 1.0))))
            size = min(size, 2 * last)
        # The growth limit applies to what was measured, not to what the end
        # of an input cut: the next call starts where this one had got to.
        self.core.pace[self.task] = (ns, size)
        if total is not None:
            # Spread a known input over the workers, as Pool.map does: at
            # least four chunks per worker (per thread, under auto).
            size = min(size, max(1, -(-total // (4 * self.core.procs * self.core.threads))))
        return size

    def _measure(self, n, ms):
        if ms is None or n <= 0 or self.chunksize is not None:
            return
        per = ms * 1e6 / n
        ns, last = self.core.pace.get(self.task, (None, 1))
        self.core.pace[self.task] = (per if ns is None else 0.7 * ns + 0.3 * per, last)

    # From the collector

    def on_chunk(self, chunk, finished):
        (_, status, pickled, entries, error, signal, exit_code, stderr, worker, ms, death, start) = finished
        with self.cond:
            self.inflight -= 1
            try:
                if status == "ok":
                    self._ok(chunk, pickled, entries, worker, ms)
                elif status in ("crashed", "timeout"):
                    self._death(chunk, status, error, signal, exit_code, stderr, worker, death, start)
                elif len(chunk.items) > 1:
                    # The chunk as a whole failed (e.g. an item would not
                    # unpickle in the worker): each item alone finds out.
                    self._resubmit(chunk, range(len(chunk.items)), alone=True)
                else:
                    self._fail(chunk.indices[0], chunk.items[0], "error", error, attempts=chunk.runs[0] + 1,
                               worker=worker, ms=ms, start=start)
                self._pump()
            except Exception as e:
                if self.error is None:
                    self.error = e
            self._check_done()
            self.cond.notify_all()

    def orphaned(self, chunk, error):
        """The engine ended without running the chunk: Ctrl-C, or the pool
        could not run."""
        with self.cond:
            self.inflight -= 1
            self._orphan(chunk, error or _native.PoolError(
                "procmap: the pool stopped before these items ran (Ctrl-C, or terminate())"))
            self._check_done()
            self.cond.notify_all()

    def _ok(self, chunk, pickled, entries, worker, ms):
        try:
            values, errors, nanos, outputs = pickle.loads(pickled)
        except Exception as e:
            if len(chunk.items) > 1:
                self._resubmit(chunk, range(len(chunk.items)), alone=True)
                return
            text = f"cannot unpickle the value in the parent process: {type(e).__name__}: {e}"
            self._fail(chunk.indices[0], chunk.items[0], "error", text, attempts=chunk.runs[0] + 1,
                       worker=worker, ms=ms)
            return
        if self.journal is not None and entries is not None:
            self.journal.write_chunk(self._tasks(chunk.indices), chunk.indices, entries, worker, chunk.runs)
        self._measure(len(values), ms)
        if self.abandoned:
            return
        failed = {}
        for k, exc_bytes, text in errors:
            failed[k] = (exc_bytes, text)
        # What items printed, under capture="tail": only those that did.
        printed = {k: (out, err) for k, out, err in outputs}
        if self.results or failed:
            out = []
            for k, (index, item, value) in enumerate(zip(chunk.indices, chunk.items, values)):
                attempts = chunk.runs[k] + 1
                item_ms = nanos[k] / 1e6
                stdout, stderr = printed.get(k, (None, None))
                if k in failed:
                    exc_bytes, text = failed[k]
                    summary, tb = _split_error(text)
                    r = _native.make_result(index, item, False, None, "error", summary, tb, attempts=attempts,
                                            worker=worker, ms=item_ms, stdout=stdout, stderr=stderr)
                    out.append(r if self.results else _Failure(r, exc_bytes))
                elif self.results:
                    out.append(_native.make_result(index, item, True, value, "ok", attempts=attempts,
                                                   worker=worker, ms=item_ms, stdout=stdout, stderr=stderr))
                else:
                    out.append(value)
            values = out
        # The items are the caller's objects: hold them no longer than the
        # results (a Future's argument is freed once its result is set).
        chunk.items = None
        self._deliver(chunk.indices, values, len(failed))

    def _death(self, chunk, status, error, signal, exit_code, stderr, worker, death, start):
        marked, others = death
        decisions = after_death(len(chunk.items), marked, chunk.runs, self.core.retries,
                                timed_out=status == "timeout", others=others)
        for decision in decisions:
            if decision[0] == FAIL:
                _, p, runs = decision
                if status == "crashed" and runs > 1 and error and ";" in error:
                    # The engine saw one run of this chunk; the item had more.
                    error = f"its worker died on each of its {runs} attempts;" + error.split(";", 1)[1]
                self._fail(chunk.indices[p], chunk.items[p], status, error, signal=signal, exit_code=exit_code,
                           stderr=stderr, attempts=runs, worker=worker, start=start)
            elif self.abandoned:
                continue
            elif decision[0] == ALONE:
                _, p, runs = decision
                self.core.submit(self, [chunk.indices[p]], [chunk.items[p]], [runs], alone=True)
            else:
                assert decision[0] == RERUN
                self._resubmit(chunk, decision[1], alone=False)

    def _resubmit(self, chunk, positions, alone):
        if self.abandoned:
            return
        if alone:
            for p in positions:
                self.core.submit(self, [chunk.indices[p]], [chunk.items[p]], [chunk.runs[p]])
        else:
            positions = list(positions)
            self.core.submit(self, [chunk.indices[p] for p in positions], [chunk.items[p] for p in positions],
                             [chunk.runs[p] for p in positions])

    def unsendable(self, index, item, payload):
        """An item that cannot be pickled, or pickles too big."""
        local = None
        if payload is None:
            try:
                pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
                text = "cannot pickle the item with the function"
            except Exception as e:
                text = f"cannot pickle the item: {type(e).__name__}: {e}"
                local = e
        else:
            text = (f"the item pickles to {len(payload)} bytes; at most {_native.MAX_PAYLOAD_BYTES} "
                    f"can be sent to a worker")
        self._fail(index, item, "error", text, attempts=0, local=local)

    def _fail(self, index, item, status, error, *, signal=None, exit_code=None, stderr=None, attempts=1,
              worker=None, ms=None, local=None, start=None):
        if self.journal is not None:
            task, journaled = self._journaled(index, item)
            self.journal.write_failed(task, index, journaled, status, error or "", signal, exit_code, stderr,
                                      attempts, worker, start)
        if self.abandoned:
            return
        summary, tb = _split_error(error)
        r = _native.make_result(index, item, False, None, status, summary, tb, signal, exit_code, stderr,
                                attempts, worker, ms)
        self._deliver([index], [r if self.results else _Failure(r, local=local)], 1)

    # What a record names: a call's function is one for all its items.

    def _tasks(self, indices):
        return self.task

    def _journaled(self, index, item):
        """The task and the item as the record of ``item`` names them."""
        return self.task, item

    def _check_done(self):
        if self.done or self.inflight > 0 or not self._exhausted():
            return
        self.done = True
        if not self.stream:
            self._undrive()
        try:
            if self.journal is not None:
                self.journal.finish()
        except Exception as e:
            if self.error is None:
                self.error = e
        if self.progress is not None:
            self.progress.close()
        self.core.end(self)
        self.cond.notify_all()


class Call(_Base):
    """map, imap, imap_unordered, starmap: one pass over an iterable."""

    def __init__(self, core, fn, items, kind, *, ordered, results, chunksize, task, journal=None,
                 journal_path=None, resume=False, progress=None, total=None, deadline=None, halt=None):
        self.source = iter(items)
        # halt=: a fresh NativeHalt per call; once it fires, `halted` is the
        # Halted to raise after what did run is handed out.
        self.halt = halt
        self.halted = None
        self.source_error = None
        self.ordered = ordered
        self.results = results
        self.resume = resume
        self.journal_path = journal_path
        self.total = total
        self.deadline = deadline
        self.pulled = 0
        self.next_index = 0
        self.ready = {} if ordered else collections.deque()
        # Ordered: a chunk whose items are consecutive waits whole, under
        # its first index, rather than as one entry per item.
        self.ready_runs = {}
        self.ready_count = 0
        self.skipped = {}
        # Failed items delivered and not yet taken: while there are none,
        # handing out a batch checks nothing per value.
        self.failures_ready = 0
        self.stream = False
        self.driving = True
        core.attach(1)
        # A map's chunks are many and alike: with two chunks per worker
        # handed to the engine, the workers waited on this thread's round
        # trips (0.30 s against 0.24 s for 500k trivial items). Futures keep
        # a short window (Stream): what is not handed over can still be
        # cancelled.
        super().__init__(core, fn, kind, chunksize=chunksize, window=8 * core.procs + 4, journal=journal,
                         task=task, progress=progress)
        self.limit = 16 * 1024
        with self.cond:
            self._pump()
            self._check_done()

    def _exhausted(self):
        return self.source is None

    def _orphan(self, chunk, error):
        # The caller's loop raises it once what did run is handed out (a
        # halt=now kill orphans chunks on purpose: Halted says why).
        if self.error is None and self.halted is None:
            self.error = error
        self.source = None

    def _undrive(self):
        if self.driving:
            self.driving = False
            self.core.attach(-1)

    def _pump(self):
        while (self.source is not None and self.inflight < self.core.window(self.window)
               and self.ready_count < self.limit and not self.abandoned):
            n = self._size(self.total)
            items = []
            try:
                for item in itertools.islice(self.source, n):
                    items.append(item)
            except Exception as e:
                # Run what was pulled, then raise this (see _take).
                self.source_error = e
                self.source = None
            else:
                if len(items) < n:
                    self.source = None
            if not items:
                continue
            start = self.pulled
            self.pulled += len(items)
            indices = list(range(start, start + len(items)))
            if self.resume and self.journal is not None:
                skipped = self.journal.admit(self.task, indices, items)
                if skipped:
                    drop = set()
                    for p, h, o in skipped:
                        drop.add(p)
                        if self.ordered:
                            self.skipped[indices[p]] = (h, o)
                    indices = [i for p, i in enumerate(indices) if p not in drop]
                    items = [x for p, x in enumerate(items) if p not in drop]
            if items:
                self.core.submit(self, indices, items, [0] * len(items))

    def _deliver(self, indices, values, failed):
        if self.halt is not None and self.halted is None:
            self._observe(len(values) - failed, failed)
        if self.ordered:
            n = len(indices)
            if n > 1 and indices[-1] - indices[0] == n - 1:
                self.ready_runs[indices[0]] = values
            else:
                ready = self.ready
                for i, v in zip(indices, values):
                    ready[i] = v
        else:
            self.ready.append(values)
        self.ready_count += len(values)
        self.failures_ready += failed
        if self.progress is not None:
            self.progress.add(len(values), failed)

    def _observe(self, ok, failed):
        """halt=: counts a chunk's statuses; when the policy fires, no
        further item is pulled. "soon" lets the chunks already handed to
        the engine finish (and be journaled and yielded); "now" kills the
        pool's workers, as terminate() does, so those are lost and a resume
        runs them again."""
        when = self.halt.observe(ok, failed)
        if when is None:
            return
        self.halted = Halted(self.halt.reason())
        self.source = None
        if when == "now":
            # The chunks in flight come back orphaned (see _orphan); once
            # they have, the call is done and _take raises self.halted.
            self.core.native.stop(kill=True)

    # The caller's side

    def __iter__(self):
        for batch, checked in self.batches():
            # Popped, not iterated: a value handed out is referenced
            # from here no longer (neither by the list nor by a loop
            # variable while the generator is suspended).
            batch.reverse()
            pop = batch.pop
            if self.results or not checked:
                while batch:
                    yield pop()
                continue
            while batch:
                if type(batch[-1]) is _Failure:
                    raise pop().exception()
                yield pop()

    def batches(self):
        """What arrives, a list at a time, with whether it may hold a
        _Failure (else it holds none): map takes whole lists, with no
        generator step per item."""
        try:
            while True:
                batch = self._take()
                if batch is None:
                    return
                yield batch
        except KeyboardInterrupt:
            # Like the command line's first Ctrl-C: chunks in flight finish
            # (within stop_grace) and are journaled; the engine ends.
            self.core.stop(kill=False)
            self.abandon()
            raise
        except BaseException:
            self.abandon()
            raise

    def abandon(self):
        """Stops pulling items and drops undelivered results; chunks in
        flight still finish and are journaled."""
        with self.cond:
            self.abandoned = True
            self.source = None
            self.ready.clear()
            self.ready_runs.clear()
            self.ready_count = 0
            self.failures_ready = 0
            self._undrive()
            self._check_done()

    def _take(self):
        with self.cond:
            while True:
                if self.ordered:
                    out = []
                    ready = self.ready
                    runs = self.ready_runs
                    i = self.next_index
                    while True:
                        run = runs.pop(i, None)
                        if run is not None:
                            out += run
                            i += len(run)
                        elif i in ready:
                            out.append(ready.pop(i))
                            i += 1
                        elif i in self.skipped:
                            self._recall()
                        else:
                            break
                    self.next_index = i
                    if out:
                        self.ready_count -= len(out)
                        checked = self.failures_ready > 0
                        if checked:
                            self.failures_ready -= sum(1 for v in out if type(v) is _Failure)
                        self._pump()
                        return out, checked
                    finished = self.done and i >= self.pulled
                elif self.ready:
                    out = self.ready.popleft()
                    self.ready_count -= len(out)
                    checked = self.failures_ready > 0
                    if checked:
                        self.failures_ready -= sum(1 for v in out if type(v) is _Failure)
                    self._pump()
                    return out, checked
                else:
                    finished = self.done
                if self.error is not None:
                    raise self.error
                if finished:
                    if self.halted is not None:
                        raise self.halted
                    if self.source_error is not None:
                        raise self.source_error
                    return None
                if self.deadline is not None and self.deadline <= time.monotonic():
                    raise TimeoutError("procmap: the next result was not ready within the timeout")
                # Poll the engine on this thread, unless another one is;
                # then its routing wakes us.
                if not self.core.drive():
                    self.cond.wait(0.005)

    def _recall(self):
        """Results of the items a resume skipped, from the journal."""
        pending = [(i, h, o) for i, (h, o) in self.skipped.items()]
        self.skipped.clear()
        found = {}
        for r in _native.recall(self.journal_path, pending):
            found[r.index] = r
        for i, _, _ in pending:
            r = found.get(i)
            if r is None:
                r = _native.make_result(i, None, False, None, "error", "procmap: its record vanished from the journal")
            self.ready[i] = r if self.results else (r.value if r.ok else _Failure(r))
            self.ready_count += 1
            self.failures_ready += not r.ok

    def values(self):
        """Every value, in input order (map)."""
        return list(self)


class Stream(_Base):
    """submit and apply_async: single calls queued as they come, sent in
    chunks; each ends in its sink (a Future, or an AsyncResult).

    With a journal, each call is a record: its task the function's name,
    its item ``(args, kwargs)``, its line its place in the order the calls
    were made (from 1). The stream opens the journal at its first call and
    holds it until the pool closes, or until a ``map`` of the same pool
    asks for it while no call is queued or running (``release_journal``);
    its next call opens it again. On a resume, a call whose latest record
    is ok is not run: its sink gets the recorded value."""

    def __init__(self, core, *, chunksize=None, journal=None):
        self.queue = collections.deque()
        self.sinks = {}
        self.stream = True
        self.closed = False
        self.results = False
        self.counter = itertools.count()
        # The pool's Journal (None without one), and what the stream has
        # of it: the open NativeJournal is self.journal (see _Base).
        self.journals = journal if journal is not None and journal.path is not None else None
        # Held while the journal is opened, so that two calls made at once
        # do not both open it.
        self.journal_lock = threading.Lock()
        self.tasks = {}
        self.index = None
        super().__init__(core, None, KIND_APPLY, chunksize=chunksize, window=2 * core.procs + 2,
                         task="procmap.submit")

    def put(self, sink, fn, args, kwargs):
        if self.journals is not None:
            with self.journal_lock:
                self._put_journaled(sink, fn, args, kwargs)
            return
        with self.cond:
            if self.closed:
                raise RuntimeError("procmap: cannot schedule new work after shutdown")
            self.queue.append((sink, next(self.counter), fn, args, kwargs))
            self._pump()

    def _put_journaled(self, sink, fn, args, kwargs):
        # Holding journal_lock, so no other call opens the journal; a map
        # may still take it from us (release_journal) while it is idle.
        with self.cond:
            if self.closed:
                raise RuntimeError("procmap: cannot schedule new work after shutdown")
            if self.journal is not None:
                self._admit(sink, fn, args, kwargs)
                return
        # Outside self.cond: opening reads the journal on a resume. A
        # PoolError (the journal is locked: a map of this pool, or another
        # process, writes it) reaches the caller of submit().
        opened = self.journals.open(holder=self)
        with self.cond:
            if self.closed:
                opened.finish()
                raise RuntimeError("procmap: cannot schedule new work after shutdown")
            self.journal = opened
            self._admit(sink, fn, args, kwargs)

    def _admit(self, sink, fn, args, kwargs):
        """Queues a call with the journal open, unless a resume finds it
        done. Holding self.cond, so the journal stays ours until the call
        is queued."""
        index = next(self.counter)
        task = task_name(fn)
        if self.journals.resume:
            skipped = self.journal.admit(task, [index], [(args, kwargs)])
            if skipped:
                (_, hash_, occurrence), = skipped
                self._recalled(sink, index, hash_, occurrence)
                return
        self.tasks[index] = task
        self.queue.append((sink, index, fn, args, kwargs))
        self._pump()

    def _recalled(self, sink, index, hash_, occurrence):
        """A call a resume skipped: its value, from the journal, read once
        for all the calls it skips."""
        if self.index is None:
            self.index = _native.JournalIndex(self.journals.path)
        r = self.index.take(index, hash_, occurrence)
        if not sink.start():
            return
        if r is None:
            sink.fail(_native.PoolError("procmap: its record vanished from the journal"))
        elif r.ok:
            sink.succeed(r.value)
        else:
            sink.fail(_Failure(r).exception())

    def release_journal(self):
        """Lets go of the journal if no call is queued or running, for a
        ``map`` of the same pool; returns whether the journal is free of
        this stream."""
        with self.cond:
            return self._release_if_idle()

    def _release_if_idle(self):
        # Holding self.cond.
        if self.journal is None:
            return True
        if self.queue or self.inflight or self.sinks:
            return False
        journal, self.journal = self.journal, None
        journal.finish()
        return True

    def _tasks(self, indices):
        return [self.tasks.get(i, "?") for i in indices]

    def _journaled(self, index, item):
        fn, args, kwargs = item
        return self.tasks.get(index) or task_name(fn), (args, kwargs)

    def close(self, cancel=False):
        with self.cond:
            self.closed = True
            if cancel:
                while self.queue:
                    self.queue.popleft()[0].cancel()
            self._check_done()

    def _exhausted(self):
        return self.closed and not self.queue

    def _pump(self):
        while self.queue and self.inflight < self.core.window(self.window):
            n = self._size()
            indices, items = [], []
            while self.queue and len(items) < n:
                sink, index, fn, args, kwargs = self.queue.popleft()
                if not sink.start():
                    self.tasks.pop(index, None)
                    continue
                self.sinks[index] = sink
                indices.append(index)
                items.append((fn, args, kwargs))
            if items:
                self.core.submit(self, indices, items, [0] * len(items))

    def _deliver(self, indices, values, failed):
        for i, v in zip(indices, values):
            self.tasks.pop(i, None)
            sink = self.sinks.pop(i, None)
            if sink is None:
                continue
            if type(v) is _Failure:
                sink.fail(v.exception())
            else:
                sink.succeed(v)

    def _orphan(self, chunk, error):
        # Each call's own Future or AsyncResult fails; the stream goes on.
        for i in chunk.indices:
            self.tasks.pop(i, None)
            sink = self.sinks.pop(i, None)
            if sink is not None:
                sink.fail(error)
