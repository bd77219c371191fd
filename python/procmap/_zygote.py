"""The template process that forks a pool's workers: ``start_method="fork"``.

A worker spawned afresh costs an interpreter's start and the import of the
main script and its modules (about 100 ms with numpy); one forked from a
process that has them costs a fork. The template is forked from the user's
process when the pool is created, while that process runs no other Python
thread and no procmap engine (see ``_core.start_method``), and then serves
the engine's requests over a Unix socket: the protocol is in
crates/procmap/src/process/zygote.rs. Each worker it forks gets its own
process group, the pool's memory limit, its stderr on the engine's pipe, and
dies with the template (PR_SET_PDEATHSIG); the template dies with the
user's process. When a worker ends, the template kills what is left in its
process group, reaps it, and sends its status to the engine.
"""

import ctypes
import faulthandler
import os
import resource
import select
import signal
import socket
import sys
import threading

from . import _native

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _subreaper():
    """Orphans below this process are re-parented to it, not to init: a
    job's daemon (start_new_session=True, a double fork) stays findable."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _die_with_parent(parent):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before prctl took effect.
    if os.getppid() != parent:
        os._exit(1)


def start(spec, directory):
    """Forks the template from this process; returns its pid and socket.
    Call only while no other thread runs (see _core.start_method)."""
    path = os.path.join(directory, "zygote.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    # Bound and listening before the fork: the engine may connect at once.
    listener.listen(64)
    # What this process buffered must not be written twice.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # The template watches this pipe: when this process is gone, however
    # it died, the pipe reads end-of-file and the template exits (and its
    # workers with it). PR_SET_PDEATHSIG would not do: it follows the
    # thread that forked, which ends at once.
    alive_r, alive_w = os.pipe()
    forked = []
    # Forked from a thread of its own, so that the template's (and its
    # workers') Python stack starts there, a few frames deep, rather than
    # under every frame of the caller's: faulthandler's dump of a worker's
    # crash then fits the stderr tail a record keeps.
    thread = threading.Thread(target=_fork_template, args=(listener, spec, alive_r, alive_w, forked),
                              name="procmap-fork")
    thread.start()
    thread.join()
    listener.close()
    os.close(alive_r)
    if not forked:
        os.close(alive_w)
        raise OSError("procmap: could not fork the worker template")
    return forked[0], path, alive_w


def _fork_template(listener, spec, alive_r, alive_w, forked):
    pid = os.fork()
    if pid:
        forked.append(pid)
        return
    code = 1
    try:
        os.close(alive_w)
        _template(listener, spec, alive_r)
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _template(listener, spec, alive):
    os.setpgid(0, 0)
    # A dead worker's leftovers in other sessions (start_new_session=True)
    # come here, where _reap kills them; workers are subreapers too, so
    # that a live worker's are not taken for a dead one's.
    _subreaper()
    from . import _worker  # noqa: F401
    # Ctrl-C is the user's process's to handle; the template goes when it
    # goes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children = {}
    warm = False
    while True:
        # The pool's first call may come at once: the template answers it
        # first, and imports what workers may need later (see _warm) when
        # it is idle.
        ready, _, _ = select.select([listener, wake_r, alive], [], [], 1.0 if warm else 0.005)
        if not ready and not warm:
            _warm()
            warm = True
        if alive in ready:
            # The pool is closed, or its process is gone: so are we, with
            # our workers and everything they left.
            _end(children)
            return
        if wake_r in ready:
            os.read(wake_r, 4096)
        if listener in ready:
            conn, _ = listener.accept()
            _fork_worker(conn, listener, (wake_r, wake_w, alive), children, spec)
        _reap(children)


def _warm():
    """Imports, once in the template rather than after each fork, what a
    worker needs only sometimes: a traceback for an error, JSON for a
    journal. A worker forked before this imports them itself."""
    import json  # noqa: F401  (the extension's codec)
    import traceback  # noqa: F401


def _fork_worker(conn, listener, wake, children, spec):
    try:
        message, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        server, mem_limit, marker = message.decode().rstrip("\n").split(" ", 2)
        if len(fds) != 1:
            raise ValueError(f"expected one stderr descriptor, got {len(fds)}")
    except Exception as e:
        try:
            conn.sendall(f"error {type(e).__name__}: {e}\n".encode())
        finally:
            conn.close()
        return
    err = fds[0]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            conn.close()
            for fd in wake:
                os.close(fd)
            for other in children.values():
                other.close()
            _worker(server, int(mem_limit), None if marker == "-" else marker, err, spec)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(err)
    # The child makes its own process group too, but the engine may kill
    # the group before the child has run that far (a pool that ends while
    # a worker starts): made here, the group exists before its pid is told.
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    conn.sendall(f"pid {pid}\n".encode())
    children[pid] = conn


def _worker(server, mem_limit, marker, err, spec):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)
    _die_with_parent(os.getppid())
    _subreaper()
    if mem_limit:
        resource.setrlimit(resource.RLIMIT_DATA, (mem_limit, mem_limit))
    # A task's prints go where the engine reads the worker's stderr, never
    # to the user's stdout.
    os.dup2(err, 1)
    os.dup2(err, 2)
    os.close(err)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # sys.stdout and sys.stderr may not be fds 1 and 2 any more (pytest's
    # capture, a notebook's streams): the worker's are.
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    os.environ[_native.SERVER_ENV] = server
    if marker is not None:
        os.environ[_native.MARKER_ENV] = marker
    os.environ["RUST_BACKTRACE"] = "0"
    # This thread's stack only: the template's caller is not the worker's.
    faulthandler.enable(sys.stderr, all_threads=False)
    from . import _worker as worker

    worker.serve(spec)


def _orphans(workers):
    """Our children that are not workers: what dead workers left behind,
    re-parented to us (we are a subreaper)."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in workers:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.append(int(entry))
    return found


def _kill_orphans(workers):
    for pid in _orphans(workers):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass


def _end(children):
    """Kills every worker and what it left, and reaps them all."""
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid, conn in children.items():
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
        conn.close()
    children.clear()
    _kill_orphans(set())


def _reap(children):
    died = False
    for pid, conn in list(children.items()):
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
        if info is None:
            continue
        # Nothing a worker left running may outlive it.
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            line = f"signal {os.WTERMSIG(status)}\n"
        else:
            line = f"exit {os.waitstatus_to_exitcode(status)}\n"
        try:
            conn.sendall(line.encode())
        except OSError:
            pass
        conn.close()
        del children[pid]
        died = True
    if died:
        # Reaped: what it left in other sessions is ours now.
        _kill_orphans(children)
