"""A pool's engine, shared by every call on the pool, and its collector.

One ``Core`` per ``procmap.Pool`` or ``procmap.Executor``. Its engine
(``_native.NativePool``) starts with the first chunk, so an empty input
starts no worker, and then serves every later call with the same workers,
as ``multiprocessing.Pool`` does. Calls (``procmap._calls``) pickle their
chunks and hand them to ``submit``; one daemon thread, the collector, waits
for finished chunks with the GIL released and routes each to its call.

After Ctrl-C (``interrupt``) or a failure to start workers the engine ends;
the next chunk starts a fresh one.

Under ``mode="auto"`` the engine chooses the threads per worker as the run
goes (``procmap::auto``); the collector reads its decisions after each poll
(``decisions``, logged on the "procmap" logger), and calls size their
windows of chunks in flight from the current count (``window``).
"""

import atexit
import collections
import itertools
import os
import pickle
import signal
import sys
import threading
import time
import weakref

from . import _native, _spec, _zygote

# How long a worker may take to start, run the initializer and answer.
_HANDSHAKE_SECONDS = 60.0

# How long one poll waits with the GIL released.
_POLL_SECONDS = 0.05

_LIVE = weakref.WeakSet()


START_METHODS = ("auto", "fork", "spawn")

MODES = ("process", "auto")

AutoDecision = collections.namedtuple("AutoDecision", "at procs threads reason")
AutoDecision.__doc__ = """A decision of ``mode="auto"``: from ``at`` (seconds since the pool's
engine started) on, ``procs`` workers ran ``threads`` threads each, because
of ``reason`` (e.g. "jobs use 0.4% of a CPU while they run: the jobs wait, a
first guess: 2 procs × 64 threads")."""


def _threads():
    """Threads of this process other than the caller's that fork would
    leave behind half-way: Python threads, and procmap engines' threads."""
    others = len(threading.enumerate()) - 1
    engines = sum(1 for core in list(_LIVE) if core.native.running())
    return others + engines


def resolve_start_method(method):
    """"fork" (workers forked from a template forked from this process) or
    "spawn" (fresh interpreters). "auto" is fork while this process runs no
    other Python thread and no procmap engine, spawn otherwise: forking a
    process whose other threads hold locks can deadlock the child. Threads
    of C libraries (OpenBLAS's, say) are not counted; they register their
    own fork handlers, and multiprocessing's fork makes the same bet."""
    if method not in START_METHODS:
        raise ValueError(f"procmap: start_method must be one of {START_METHODS}, got {method!r}")
    if method == "auto":
        return "fork" if _threads() == 0 else "spawn"
    return method


def _exited_within(pid, seconds):
    """Waits for child ``pid`` to exit and reaps it; False if it has not
    within ``seconds``. A pidfd wakes the wait the moment it exits (a
    pool's exit waits on this; polling added milliseconds)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return True
            except ChildProcessError:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd is None:
                time.sleep(min(left, 0.002))
            else:
                select.select([fd], [], [], left)
    finally:
        if fd is not None:
            os.close(fd)


def _kill(pid, alive):
    """Ends the template: closing its pipe makes it kill its workers and
    what they left, and exit; SIGKILL if it has not within 5 s. Reaps it."""
    try:
        os.close(alive)
    except OSError:
        pass
    if _exited_within(pid, 5.0):
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


class Chunk:
    """Items of one call sent as one engine job: ``indices`` are their
    positions in the call's input, ``runs`` their counted runs so far."""

    __slots__ = ("call", "indices", "items", "runs")

    def __init__(self, call, indices, items, runs):
        self.call = call
        self.indices = indices
        self.items = items
        self.runs = runs


class Core:
    def __init__(self, *, procs, retries, timeout, mem_limit, max_tasks_per_child, stop_grace,
                 initializer, initargs, start_method="auto", capture=None, mode="process"):
        if mode not in MODES:
            raise ValueError(f'procmap: mode must be "process" or "auto", got {mode!r}')
        self.auto = mode == "auto"
        if capture is not None and not isinstance(capture, str):
            raise ValueError(f'procmap: capture must be "none", "tail" or "files=DIR", got {capture!r}')
        impossible = _native.capture_impossible(self.auto)
        if impossible and capture not in (None, "none"):
            # The command line's rule: an explicit capture is refused where
            # items share their streams.
            raise ValueError(f"procmap: capture={capture!r} is impossible in {impossible}: its items "
                             f'share one stdout and stderr; use mode="process" to capture each item\'s '
                             f'output, or capture="none"')
        # Checked (and a files directory made) before anything starts.
        capture = _native.prepare_capture(capture or "none")
        # Each item's file is named by its index in its call, which the
        # worker learns with the chunk.
        self.capture_files = capture.startswith("files=")
        self.procs = procs
        self.has_initializer = initializer is not None
        self.retries = retries
        self.timeout = timeout
        # The markers are written once per item: memory (/dev/shm), not a
        # disk; named after this process, so that the next pool removes
        # it should this process be killed before it can, and locked, so
        # that no other pool removes it while it is in use.
        marks = _native.MarksDir()
        self.marks = os.fspath(marks.path)
        self._cleanup = weakref.finalize(self, marks.remove)
        # Not at exit by itself: an executor's work still runs then (see
        # _executor._python_exit), and its workers need the directory.
        # _stop_all removes it after them.
        self._cleanup.atexit = False
        self.zygote = None
        socket_path = None
        try:
            worker_arg, spec = _spec.build(initializer, initargs, self.marks)
            self.start_method = start_method = resolve_start_method(start_method)
            if start_method == "fork":
                pid, socket_path, alive = _zygote.start(spec, self.marks)
                self.zygote = pid
                self._reap_zygote = weakref.finalize(self, _kill, pid, alive)
                self._reap_zygote.atexit = False
        except BaseException:
            self._cleanup()
            raise
        self.native = _native.NativePool(
            program=sys.executable,
            worker_args=["-m", "procmap._worker", worker_arg],
            procs=procs,
            marks=self.marks,
            zygote=socket_path,
            timeout=timeout,
            mem_limit=mem_limit,
            max_tasks_per_child=max_tasks_per_child,
            stop_grace=stop_grace,
            handshake_timeout=_HANDSHAKE_SECONDS,
            capture=capture,
            auto=self.auto,
        )
        # mode="auto": the threads per worker now, and every decision.
        self.threads = 1
        self.decisions = []
        self._auto_seen = 0
        self.lock = threading.Lock()
        self.chunks = {}
        self.ids = itertools.count(1)
        # Per function: (nanoseconds per item, last chunk size), for
        # chunksize="auto" (see _calls._Base._size).
        self.pace = {}
        self.collector = None
        self.poll_lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.drivers = 0
        self.streams = 0
        self.joining = False
        # Set by close(): the engine ends once no call is active.
        self.closing = False
        self.active = set()
        _LIVE.add(self)

    # Calls

    def begin(self, call):
        with self.lock:
            if self.closing:
                raise ValueError("procmap: the pool is closed")
            self.active.add(call)
            current = self.decisions[-1] if self.decisions else None
        if current is not None and call.journal is not None:
            # A segment that starts mid-run says what is in force.
            call.journal.write_auto(*current)

    def end(self, call):
        """A call has delivered everything (or was abandoned and has nothing
        in flight)."""
        with self.lock:
            self.active.discard(call)
            idle = self.closing and not self.active
        if idle:
            self.native.close_input()

    def window(self, base):
        """Chunks a call may have in flight: ``base`` for one thread per
        worker; under auto, enough for every thread of every worker to have
        a chunk running and one queued."""
        if self.threads <= 1:
            return base
        return max(base, 2 * self.procs * (self.threads + 1) + 4)

    def submit(self, call, indices, items, runs, alone=False):
        """Pickles and queues one chunk of ``call``. Items that cannot be
        pickled become that item's error, without reaching a worker; a
        chunk too big for one message is split. ``alone`` (a suspect):
        under auto, its worker runs nothing else meanwhile, so that a death
        there is surely its own."""
        job = next(self.ids)
        try:
            payload = pickle.dumps((job, call.kind, call.fn, items, call.journal is not None,
                                    indices if self.capture_files else None),
                                   pickle.HIGHEST_PROTOCOL)
        except Exception:
            if len(items) == 1:
                payload = None
            else:
                # Find the bad items: each on its own.
                for i, item, r in zip(indices, items, runs):
                    self.submit(call, [i], [item], [r], alone)
                return
        if payload is None or len(payload) > _native.MAX_PAYLOAD_BYTES:
            if payload is not None and len(items) > 1:
                half = len(items) // 2
                self.submit(call, indices[:half], items[:half], runs[:half], alone)
                self.submit(call, indices[half:], items[half:], runs[half:], alone)
                return
            call.unsendable(indices[0], items[0], payload)
            return
        chunk = Chunk(call, indices, items, runs)
        with self.lock:
            self._ensure_running()
            self.chunks[job] = chunk
            if call.stream:
                self.streams += 1
                self.idle.notify_all()
        call.inflight += 1
        try:
            self.native.submit(job, payload, self.auto and alone)
        except BaseException:
            with self.lock:
                self.chunks.pop(job, None)
            call.inflight -= 1
            raise

    def _ensure_running(self):
        # Holding self.lock.
        if self.collector is None:
            self.native.start()
            self._auto_seen = 0
            self.collector = threading.Thread(target=self._collect, name="procmap-collector", daemon=True)
            self.collector.start()

    # The collector

    def _collect(self):
        """The collector thread: polls while no caller's thread does (see
        ``drive``), which is when futures or async results wait."""
        while True:
            with self.lock:
                while self.drivers > 0 and self.streams == 0 and not self.joining and self.collector is not None:
                    self.idle.wait(0.5)
            with self.poll_lock:
                if self._poll(_POLL_SECONDS):
                    return

    def drive(self):
        """Polls the engine once from a caller's thread that waits for
        results, unless another thread is polling (then returns False at
        once). One thread does the work in the common case: a second one
        would fight it for the GIL on every chunk."""
        if not self.poll_lock.acquire(blocking=False):
            return False
        try:
            self._poll(_POLL_SECONDS)
        finally:
            self.poll_lock.release()
        return True

    def _poll(self, timeout):
        """Routes what the engine delivers within ``timeout``; returns True
        once the engine has ended (and wraps it up). Holding poll_lock."""
        if self.collector is None:
            return True
        batch = self.native.poll(timeout)
        if self.auto:
            self._read_decisions()
        if batch is not None:
            for finished in batch:
                with self.lock:
                    chunk = self.chunks.pop(finished[0], None)
                    if chunk is not None and chunk.call.stream:
                        self.streams -= 1
                if chunk is not None:
                    chunk.call.on_chunk(chunk, finished)
            return False
        error = None
        try:
            self.native.finish()
        except _native.PoolError as e:
            error = e
            if self.has_initializer and "failing to start" in str(e):
                error = _native.PoolError(
                    f"{e}\n(each worker runs the pool's initializer before it takes items: an initializer "
                    f"that raises, exits or hangs for {int(_HANDSHAKE_SECONDS)} s keeps workers from starting)")
        with self.lock:
            orphans = list(self.chunks.values())
            self.chunks.clear()
            self.streams = 0
            self.joining = False
            self.collector = None
            self.idle.notify_all()
        for chunk in orphans:
            chunk.call.orphaned(chunk, error)
        return True

    def _read_decisions(self):
        """The engine's new auto decisions: kept, logged, and the count
        they set used for the calls' windows."""
        new = self.native.auto_since(self._auto_seen)
        if not new:
            return
        import logging

        log = logging.getLogger("procmap")
        self._auto_seen += len(new)
        for at, procs, threads, reason in new:
            self.decisions.append(AutoDecision(at, procs, threads, reason))
            log.info("procmap auto: %s", reason)
        self.threads = new[-1][2]
        # Into the journals being written, among their records, as the
        # command line writes its own decisions.
        with self.lock:
            journals = [call.journal for call in self.active if call.journal is not None]
        for journal in journals:
            for decision in new:
                journal.write_auto(*decision)

    def attach(self, driver):
        """A call that a caller's thread iterates (``driver`` 1) or no
        longer (-1): the collector stays out while callers' threads poll,
        unless a stream's chunks (futures, async results) are in flight."""
        with self.lock:
            self.drivers += driver
            self.idle.notify_all()

    # Stopping

    def close(self):
        """No new calls; the engine ends once the active ones are done."""
        with self.lock:
            self.closing = True
            idle = not self.active
        if idle:
            self.native.close_input()

    def join(self, timeout=None):
        collector = self.collector
        if collector is not None and collector is not threading.current_thread():
            with self.lock:
                # Nobody else may be polling now: the collector takes over.
                self.joining = True
                self.idle.notify_all()
            collector.join(timeout)
        if self.closing and self.zygote and self.collector is None:
            # Closed and done: the template has no more workers to fork.
            self._reap_zygote()

    def stop(self, kill):
        """Stops the engine: chunks in flight finish within the stop grace
        and are delivered (or, with ``kill``, their workers are killed at
        once), then the collector ends. Waits for that; a second Ctrl-C
        meanwhile kills at once."""
        self.native.stop(kill=kill)
        while True:
            try:
                self.join()
                break
            except KeyboardInterrupt:
                self.native.stop(kill=True)

    def terminate(self):
        with self.lock:
            self.closing = True
        self.stop(kill=True)
        if self.zygote:
            self._reap_zygote()
        self._cleanup()


@atexit.register
def _stop_all():
    # An unclosed pool at exit: its workers go now, not when they notice.
    for core in list(_LIVE):
        try:
            core.native.stop(kill=True)
        except Exception:
            pass
        if core.zygote:
            core._reap_zygote()
        core._cleanup()
