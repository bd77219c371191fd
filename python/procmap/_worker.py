"""A procmap worker process: ``python -m procmap._worker SPEC``.

The supervisor (procmap.Pool, in the user's process) starts it. Like a
``spawn`` child of multiprocessing, it restores the parent's ``sys.path`` and
working directory, imports the parent's main script as ``__mp_main__`` (so
its ``if __name__ == "__main__":`` block does not run) and aliases it as
``__main__``, so that a function defined there unpickles. Then it runs the
initializer and serves jobs through the engine's worker runtime until told
to stop: each chunk brings its function. A failure here, before serving, ends the process with a traceback
on stderr, which the pool reports as a PoolError after a few attempts.

``python -m procmap._worker --tasks FILE`` instead serves the
``@procmap.task`` functions of FILE to the command line (``supervisor
--worker``); see procmap._tasks.
"""

import base64
import faulthandler
import os
import pickle
import sys
import types

from . import _spec
from ._result import _TRACEBACK_MARK


def _fixup_main_from_name(name):
    # As multiprocessing.spawn: `python -m pkg` runs pkg.__main__, whose
    # functions are found under that name already.
    if name == "__main__" or name.endswith(".__main__"):
        return
    import runpy

    module = types.ModuleType("__mp_main__")
    module.__dict__.update(runpy.run_module(name, run_name="__mp_main__", alter_sys=True))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def _fixup_main_from_path(path):
    if os.path.splitext(os.path.basename(path))[0] == "ipython":
        return
    import runpy

    module = types.ModuleType("__mp_main__")
    module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def describe(exc, tb=None):
    """The exception as the worker reports it: its one-line summary, a blank
    line, and its traceback (the engine calls the user's function directly,
    so the first frame is already the user's)."""
    # Imported here, not with the module: a forked worker's template is
    # ready sooner (traceback costs ~3 ms), and it imports it while idle.
    import traceback

    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if tb is None:
        tb = exc.__traceback__
    body = "".join(traceback.format_exception(type(exc), exc, tb))
    if not body.startswith("Traceback (most recent call last):\n"):
        return summary
    return summary + _TRACEBACK_MARK + body[len("Traceback (most recent call last):\n") :]


def serve_tasks_file(path):
    """Serves the @procmap.task functions of a Python file (the command
    line's worker): the file is run as "__mp_main__", so its
    `if __name__ == "__main__":` block does not run."""
    from . import _native, _tasks

    faulthandler.enable()
    path = os.path.abspath(path)
    sys.path.insert(0, os.path.dirname(path))
    _fixup_main_from_path(path)
    tasks = _tasks.catalogue()
    if not tasks:
        raise SystemExit(f"procmap: {path} defines no @procmap.task function")
    _native.serve_tasks(tasks, _tasks.to_json, describe)


def main(argv):
    if argv[1:2] == ["--tasks"] and len(argv) == 3:
        serve_tasks_file(argv[2])
        return
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
    serve(spec)


def serve(spec):
    """Runs the initializer, then serves chunks: the end of a spawned
    worker's start, and all of a worker forked by the template
    (procmap._zygote), which has the parent's modules already."""
    if spec.get("initializer"):
        initializer = pickle.loads(spec["initializer"])
        initializer(*pickle.loads(spec["initargs"]))
    from . import _native

    _native.serve(describe, spec.get("marks"))


if __name__ == "__main__":
    main(sys.argv)
