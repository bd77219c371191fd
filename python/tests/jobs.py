"""Functions the tests run in worker processes. They live in a module so
that workers can import them by name, as with ProcessPoolExecutor."""

import ctypes
import dataclasses
import enum
import os
import sys
import time


def cube(x):
    return x**3


def faulty(x):
    """Cubes an int; a string item names a fault to commit instead."""
    if x == "segfault":
        ctypes.string_at(0)
    elif x == "exit3":
        os._exit(3)
    elif x == "raise":
        raise ValueError("bad item")
    elif x == "hang":
        while True:
            pass
    elif x == "oom":
        return len(bytearray(20 << 30))  # 20 GiB
    return x**3


def slow_cube(x):
    time.sleep(0.002)
    return x**3


def sleepy(x):
    time.sleep(0.05)
    return x


def crash_if_flagged(x):
    """Dies on multiples of 7 while the file named by $PROCMAP_TEST_FLAG exists."""
    if x % 7 == 0 and os.path.exists(os.environ["PROCMAP_TEST_FLAG"]):
        os._exit(9)
    return x * 2


def pid(_):
    return os.getpid()


_initialized = []


def init(value):
    _initialized.append(value)


def initialized(_):
    return list(_initialized)


def sized(n):
    return b"x" * n


def echo(x):
    return x


def slow_echo(x):
    time.sleep(0.002)
    return x


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Color(enum.IntEnum):
    RED = 1


def detach(job):
    """Starts `sleep 60` in a session of its own (start_new_session=True),
    writes its pid to the file `path`, then dies (os._exit) or returns."""
    import subprocess

    path, die = job
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with open(path, "w") as f:
        f.write(str(child.pid))
    if die:
        os._exit(3)
    return child.pid


def second(x):
    """Takes a second."""
    time.sleep(1)
    return x


def exit3(x):
    """Kills its worker, whatever the item."""
    os._exit(3)


def chatty(x):
    """Prints to stdout and (with a terminal escape) to stderr."""
    print(f"item {x} on stdout", flush=True)
    print(f"item {x} on stderr \x1b[2J", file=sys.stderr, flush=True)
    return x


def nap_or_fail(x):
    """Takes 30 ms; every tenth item raises."""
    time.sleep(0.03)
    if x % 10 == 0:
        raise ValueError(f"item {x}")
    return x


def talkative(x):
    """Prints on stdout without a newline or a flush (Python buffers it,
    even when its stdout is line-buffered), and a line on stderr for odd
    items; x == "lots" prints 100 KB."""
    if x == "lots":
        print("y" * 99_999)
        print("end of lots")
        return 0
    print(f"item {x}", end="")
    if x % 2:
        sys.stderr.write(f"warn {x}\n")
    return x


def print_then_segfault(x):
    print(f"about to crash on {x}")
    ctypes.string_at(0)


def nap_where(x):
    """Sleeps 20 ms (the GIL released) and says which worker and thread ran
    it: mode="auto"'s waiting items."""
    import threading

    time.sleep(0.02)
    return x, os.getpid(), threading.get_ident()


def spin_where(x):
    """About 5 ms of pure Python (the GIL held): mode="auto"'s CPU-bound
    items. Says which worker and thread ran it."""
    import threading

    deadline = time.thread_time() + 0.005
    n = 0
    while time.thread_time() < deadline:
        n += 1
    return x, os.getpid(), threading.get_ident()


def nap_counted(args):
    """Appends "INDEX PID" to a side file as it starts (each run counted,
    whatever happens next), then sleeps 20 ms; the item named by `crash`
    then kills its worker: `how` is "abort" (SIGABRT in its own thread) or
    "kill" (SIGKILL to the whole process). On its first run it first waits
    (up to 5 s) for another item to start in its worker, so that its death
    is shared with an item that is running (asleep) beside it."""
    import signal

    index, runs_file, crash, how = args
    pid = os.getpid()
    line = f"{index} {pid}\n"
    fd = os.open(runs_file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        if index != crash:
            time.sleep(0.02)
            return index
        with open(runs_file) as f:
            first = f.read().count(f"{index} ") == 1
        deadline = time.monotonic() + 5
        while first and time.monotonic() < deadline:
            with open(runs_file) as f:
                after = f.read().split(line, 1)[-1]
            if f" {pid}\n" in after:
                break
            time.sleep(0.001)
    finally:
        os.close(fd)
    if how == "abort":
        os.abort()
    os.kill(pid, signal.SIGKILL)


def varied(x):
    """Prints its item; "raise" raises, "lambda" returns what cannot be
    pickled."""
    print(f"item {x}", end="")
    if x == "raise":
        raise ValueError("bad item")
    if x == "lambda":
        return lambda: x
    return x


def counted(path, x, power=2):
    """Appends x to the file at path (one line per run), then returns x**power."""
    with open(path, "a") as f:
        f.write(f"{x}\n")
    return x**power
