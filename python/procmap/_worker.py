"""A procmap worker process: ``python -m procmap._worker SPEC``.

The supervisor (procmap.Pool, in the user's process) starts it. Like a
``spawn`` child of multiprocessing, it restores the parent's ``sys.path`` and
working directory, imports the parent's main script as ``__mp_main__`` (so
its ``if __name__ == "__main__":`` block does not run) and aliases it as
``__main__``, so that a function defined there unpickles. Then it runs the
initializer and serves jobs through the engine's worker runtime until told
to stop. A failure here, before serving, ends the process with a traceback
on stderr, which the pool reports as a PoolError after a few attempts.
"""

import base64
import faulthandler
import os
import pickle
import runpy
import sys
import traceback
import types

from . import _spec
from ._result import _TRACEBACK_MARK


def _fixup_main_from_name(name):
    # As multiprocessing.spawn: `python -m pkg` runs pkg.__main__, whose
    # functions are found under that name already.
    if name == "__main__" or name.endswith(".__main__"):
        return
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(runpy.run_module(name, run_name="__mp_main__", alter_sys=True))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def _fixup_main_from_path(path):
    if os.path.splitext(os.path.basename(path))[0] == "ipython":
        return
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def describe(exc, skip_frames=1):
    """The exception as the worker reports it: its one-line summary, a blank
    line, and its traceback without procmap's own frames."""
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    body = "".join(traceback.format_exception(type(exc), exc, tb))
    if not body.startswith("Traceback (most recent call last):\n"):
        return summary
    return summary + _TRACEBACK_MARK + body[len("Traceback (most recent call last):\n") :]


def make_call(fn):
    """The wrapper the engine calls per job: base64 pickle in, ``(True,
    base64 pickle)`` or ``(False, message)`` out. It never raises."""
    loads, dumps, b64decode, b64encode = pickle.loads, pickle.dumps, base64.b64decode, base64.b64encode
    protocol = pickle.HIGHEST_PROTOCOL

    def call(payload):
        try:
            item = loads(b64decode(payload))
        except BaseException as e:
            return False, f"cannot unpickle the item in the worker: {type(e).__name__}: {e}"
        try:
            value = fn(item)
        except BaseException as e:  # SystemExit and KeyboardInterrupt in a job are its errors too
            return False, describe(e)
        try:
            return True, b64encode(dumps(value, protocol)).decode("ascii")
        except BaseException as e:
            return False, f"cannot pickle the return value: {type(e).__name__}: {e}"

    return call


def main(argv):
    spec = pickle.loads(base64.b64decode(argv[1]))
    # A crash in C code (a segfault) prints the Python stack to stderr before
    # the process dies; the pool keeps the end of stderr in the record.
    faulthandler.enable()
    sys.path[:] = spec["sys_path"]
    os.chdir(spec["cwd"])
    _spec.BOOTSTRAPPING = True
    if spec.get("main_name"):
        _fixup_main_from_name(spec["main_name"])
    elif spec.get("main_path"):
        _fixup_main_from_path(spec["main_path"])
    _spec.BOOTSTRAPPING = False
    fn = pickle.loads(spec["fn"])
    if spec.get("initializer"):
        initializer = pickle.loads(spec["initializer"])
        initializer(*pickle.loads(spec["initargs"]))
    from . import _native

    _native.serve(spec["task"], make_call(fn))


if __name__ == "__main__":
    main(sys.argv)
