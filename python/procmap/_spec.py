"""What a worker needs to find the user's function, checked in the parent
before any worker starts (as multiprocessing.spawn's preparation data)."""

import base64
import os
import pickle
import sys


# True in a worker process while it imports the parent's main script: a pool
# started then is a main script without an `if __name__ == "__main__":`
# guard, which would otherwise start workers that start workers, forever.
BOOTSTRAPPING = False


def check_not_bootstrapping():
    if BOOTSTRAPPING:
        raise RuntimeError(
            "procmap: a Pool was started while a worker process imported your main script. "
            "Start pools under `if __name__ == \"__main__\":`, as with multiprocessing, so that "
            "workers can import the script without running it."
        )


def task_name(fn):
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}.{name}"


def _pickled_reference(what, obj):
    if not callable(obj):
        raise TypeError(f"procmap: the {what} must be callable, got {obj!r}")
    try:
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        raise TypeError(
            f"procmap cannot send the {what} {obj!r} to its worker processes, which find it by module "
            f"and name: define it with `def` at the top level of a module or script (a lambda or a "
            f"function defined inside another function has no importable name) [{type(e).__name__}: {e}]"
        ) from e


def _main_info():
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return {"main_name": spec.name}
    path = getattr(main, "__file__", None)
    if path is not None:
        return {"main_path": os.path.normpath(os.path.abspath(path))}
    return {}


def check_function(fn, what="function"):
    """Raises TypeError, before anything runs, for a function that workers
    could not find by module and name (a lambda, a nested function, one
    defined in an interactive session)."""
    _pickled_reference(what, fn)
    if getattr(fn, "__module__", None) == "__main__" and not _main_info():
        raise TypeError(
            f"procmap: the {what} {fn!r} is defined in an interactive session, which worker "
            f"processes cannot import; put it in a module or a script file"
        )


def build(initializer=None, initargs=(), marks=None):
    """The worker's command-line argument (base64 of a pickled dict), and
    the dict. Functions travel with each chunk; this carries what every
    worker needs before its first chunk."""
    init_bytes = None
    if initializer is not None:
        check_function(initializer, "initializer")
        init_bytes = _pickled_reference("initializer", initializer)
    try:
        initargs_bytes = pickle.dumps(tuple(initargs), pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        raise TypeError(f"procmap: initargs cannot be pickled: {type(e).__name__}: {e}") from e
    spec = {
        "initializer": init_bytes,
        "initargs": initargs_bytes,
        "sys_path": list(sys.path),
        "cwd": os.getcwd(),
        "marks": marks,
        **_main_info(),
    }
    arg = base64.b64encode(pickle.dumps(spec, pickle.HIGHEST_PROTOCOL)).decode("ascii")
    # One argv string may hold at most 128 KiB on Linux.
    if len(arg) > 100_000:
        raise ValueError("procmap: initargs are too large to pass to workers (keep them under ~64 KiB)")
    return arg, spec
