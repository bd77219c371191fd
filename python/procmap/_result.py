"""What a run yields per item (``Result``, built by the extension), the
exception ``map`` raises (``JobFailed``), and reading a journal back
(``read_journal``)."""

import json
import os

from . import _native
from ._native import Result

_TRACEBACK_MARK = "\n\nTraceback (most recent call last):\n"  # as crates/procmap-py/src/result.rs


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as text; it is the
    ``__cause__`` of a ``JobFailed``, as in concurrent.futures."""

    def __str__(self):
        return self.args[0]


class JobFailed(Exception):
    """An item failed and there is no exception of its own to raise: it
    crashed its worker (``WorkerCrashed``), ran out of time
    (``JobTimeout``), or raised an exception that could not be pickled
    back. ``.result`` is that item's ``Result`` (status, error, signal,
    stderr tail, attempts); ``.failures`` how many items failed in all, where
    known. An exception the function raised is raised as itself instead,
    with the worker's traceback as its ``__cause__``."""

    def __init__(self, result, failures=1):
        self.result = result
        self.failures = failures
        where = f"item {result.index}"
        more = f" ({failures - 1} more items failed)" if failures > 1 else ""
        detail = result.error or ""
        if result.status == "crashed":
            how = result.signal or f"exit code {result.exit_code}"
            detail = f"{detail} [{how}]" if detail else how
        super().__init__(f"{where} {result.status}: {detail}{more}")
        if result.traceback:
            self.__cause__ = RemoteTraceback(result.traceback)


class WorkerCrashed(JobFailed):
    """The item killed its worker process on every attempt (a segfault,
    ``os._exit``, the kernel's OOM killer): ``.result.signal`` or
    ``.result.exit_code`` says how, ``.result.stderr`` ends with what the
    worker printed last."""


class JobTimeout(JobFailed):
    """The item ran longer than the pool's ``timeout`` and its worker was
    killed."""


class Halted(Exception):
    """The pool's ``halt=`` policy stopped a call (``map``, ``imap``,
    ``imap_unordered``, ``starmap``, ``Executor.map``) early, as the
    command line's ``--halt`` stops a run. Raised once the results that did
    arrive are handed out; with a journal every one of them is recorded,
    so ``resume=True`` finishes the batch. ``str()`` says which policy
    fired and the counts when it did."""


def read_journal(path):
    """Every record of a journal written by ``Pool(journal=...)``, as a list
    of Result, in the order they were written. An item rerun by
    ``resume=True`` appears once per run. Items and values come back as the
    objects they were, whether the journal holds them as JSON or pickled.
    The journal's header lines (one per run) and a torn last line (the
    process died while writing it, even inside a UTF-8 character) are
    skipped; a journal written by a newer procmap raises ValueError.
    ``read_journal_records`` gives the raw dictionaries, with the
    function's name in "task"."""
    return _native.read_journal(os.fspath(path))


def read_journal_records(path):
    """The journal's records as dictionaries (the engine's JSON Lines:
    line, occurrence, task, args, status, value, error, signal, exit_code,
    stderr, attempts, worker, ms), headers and a torn last line skipped.
    ``args[0]`` is the item's JSON text, or "pickle:" and the base64 of its
    pickle; ``value`` is the returned value itself, or {"$pickle":
    "<base64>"}."""
    return [json.loads(line) for line in _native.read_journal_lines(os.fspath(path))]


def report(journal, output):
    """Writes a run as a picture: one self-contained HTML file (no network
    needed) with each worker's timeline, throughput and busy workers over
    time, the counts by status, the slowest items and the failures grouped
    by error, as ``supervisor report`` draws it. ``journal`` is a path, a
    list of paths, or a run directory. Returns (records, drawn): records
    written by a procmap older than the ``start`` field are counted, not
    drawn."""
    paths = [journal] if isinstance(journal, (str, bytes, os.PathLike)) else list(journal)
    return _native.report([os.fspath(p) for p in paths], os.fspath(output))
