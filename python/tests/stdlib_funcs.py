"""Functions and classes that the ported stdlib tests (test_stdlib_pool.py,
test_stdlib_executor.py) run in worker processes. They live at the top level
of an importable module so that every pool under test, the stdlib's or
procmap's, can send them by reference.

Tests that need a worker to wait for the test use a "gate": a file the
worker waits for (always with a deadline, so that a broken pool fails a test
instead of hanging it) and that the test creates when it wants the worker to
go on. Files work across every kind of pool, where a multiprocessing Event or
manager proxy would only work in the stdlib's own workers."""

import ctypes
import faulthandler
import hashlib
import os
import threading
import time

# How long a gated worker waits for its gate before it gives up with an
# error: long enough for a loaded machine, short enough to end a broken test.
GATE_TIMEOUT = 30.0


def wait_for_file(path, timeout=GATE_TIMEOUT):
    """Returns once `path` exists; raises TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} was not opened within {timeout} s")
        time.sleep(0.005)


def append_line(path, text):
    with open(path, "a") as f:
        f.write(f"{text}\n")


def read_lines(path):
    """The lines of `path`, or [] while it does not exist."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


# ---- plain functions ---------------------------------------------------------


def sqr(x, wait=0.0):
    time.sleep(wait)
    return x * x


def mul(x, y):
    return x * y


def capture(*args, **kwargs):
    return args, kwargs


def identity(x):
    return x


def sqr_and_pid(x):
    return x * x, os.getpid()


def pid_of(_=None):
    return os.getpid()


def sleep_then_return(pair):
    """`pair` is (seconds, value): sleeps, then returns value."""
    seconds, value = pair
    time.sleep(seconds)
    return value


def sleep_and_append(seconds, path, text):
    time.sleep(seconds)
    append_line(path, text)


# ---- gates -------------------------------------------------------------------


def gated_sqr(job):
    """`job` is (x, gate, marks): waits for the file `gate` when it is not
    None, and when `marks` (a directory) is not None writes the file
    marks/x once x*x is computed, so the test can see which items are done."""
    x, gate, marks = job
    if gate is not None:
        wait_for_file(gate)
    if marks is not None:
        open(os.path.join(marks, str(x)), "w").close()
    return x * x


def wait_for_gate(gate, value=None):
    """Waits for the file `gate` (not at all when it is None), returns value."""
    if gate is not None:
        wait_for_file(gate)
    return value


def wait_and_raise(gate):
    wait_for_file(gate)
    raise Exception("this is an exception")


def announce_and_wait(started, gate, value=None):
    """Appends this worker's pid to the file `started`, then waits for `gate`."""
    append_line(started, os.getpid())
    wait_for_file(gate)
    return value


def announce_and_sleep(started, seconds=300.0):
    """Appends this worker's pid to `started`, then sleeps: a task that only
    ends when its worker is killed (300 s outlasts any test's deadline)."""
    append_line(started, os.getpid())
    time.sleep(seconds)
    return seconds


# ---- failures ----------------------------------------------------------------


def raising():
    raise KeyError("key")


def raise_runtime_error():
    # The tests look for this exact line, spacing and all, in the worker's
    # traceback (as CPython's test_traceback does).
    raise RuntimeError(123) # some comment


def raise_large_valueerror(wait):
    time.sleep(wait)
    raise ValueError("x" * 1024**2)


def unpicklable_result():
    return threading.Lock()


def exit_now(code=3):
    os._exit(code)


def segfault():
    # Without faulthandler's report (pytest enables it, and a forked worker
    # inherits it): the crash itself is the point.
    faulthandler.disable()
    ctypes.string_at(0)


def sqr_or_exit(x):
    """Squares x; kills its worker instead when x is None."""
    if x is None:
        os._exit(3)
    return x * x


# Ways for a task to kill its worker: name -> (function, args).
CRASHES = {"os._exit": (exit_now, (3,)), "SIGSEGV": (segfault, ())}


def count_run_then_exit(path):
    """Appends a line to `path` for each run, then kills its worker."""
    append_line(path, os.getpid())
    os._exit(7)


# ---- initializers ------------------------------------------------------------

INITIALIZER_STATUS = "uninitialized"


def init(status):
    global INITIALIZER_STATUS
    INITIALIZER_STATUS = status


def get_init_status(_=None):
    return INITIALIZER_STATUS


def init_record_pid(path):
    append_line(path, os.getpid())


def init_fail():
    time.sleep(0.1)  # let some tasks be scheduled
    raise ValueError("error in initializer")


# ---- payloads ----------------------------------------------------------------


def digest(data):
    return len(data), hashlib.sha256(data).hexdigest()


def pattern_bytes(n):
    """n bytes that are not all alike, so a truncated or shuffled copy shows."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


# ---- objects -----------------------------------------------------------------


class MyObject:
    def my_method(self):
        pass


def make_dummy_object(_):
    return MyObject()


class CountedObject:
    """Counts its live instances in this process."""

    n_instances = 0

    def __new__(cls):
        cls.n_instances += 1
        return object.__new__(cls)

    def __del__(self):
        type(self).n_instances -= 1


class SayWhenError(ValueError):
    pass


def exception_throwing_generator(total, when):
    """Yields 0, 1, ... total-1 but raises SayWhenError instead of yielding
    `when` (at once when `when` is -1)."""
    if when == -1:
        raise SayWhenError("Somebody said when")
    for i in range(total):
        if i == when:
            raise SayWhenError("Somebody said when")
        yield i
