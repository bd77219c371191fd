"""``@procmap.task``: Python functions as tasks of procmap's command line.

    # tasks.py
    import procmap

    @procmap.task
    def rgb(path, out=None):
        "Writes the RGB PNG of a 13-band tile."
        ...
        return {"output": out}

Each job line's words are the function's arguments (strings); its return
value must be JSON-serializable and becomes the record's ``value``. A worker
that serves the tasks of such a file is

    python -m procmap._worker --tasks tasks.py

which ``supervisor --worker`` accepts through a two-line wrapper script (see
the README); ``supervisor tasks --worker WRAPPER`` lists the tasks with
their signatures.
"""

import json

# Tasks registered by @procmap.task in this process, by name.
REGISTRY = {}


def task(fn=None, *, name=None):
    """Registers ``fn`` as a command-line task named ``name`` (default: the
    function's name) and returns it unchanged, so it can still be called or
    given to ``Pool.map``."""

    def register(fn):
        REGISTRY[name or fn.__name__] = fn
        return fn

    return register(fn) if fn is not None else register


def usage(fn):
    """The argument form of a job line, from the signature: ``PATH [OUT]``."""
    import inspect  # only where tasks are listed: ~4 ms to import

    words = []
    for p in inspect.signature(fn).parameters.values():
        word = p.name.upper()
        if p.kind is p.VAR_POSITIONAL:
            words.append(f"[{word}...]")
        elif p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD):
            continue
        elif p.default is not p.empty:
            words.append(f"[{word}]")
        else:
            words.append(word)
    return " ".join(words)


def about(fn):
    import inspect

    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def to_json(value):
    """The return value as JSON text; TypeError/ValueError if it has none."""
    return json.dumps(value, allow_nan=False)


def catalogue():
    return [(name, usage(fn), about(fn), fn) for name, fn in sorted(REGISTRY.items())]
