"""What a run yields per item (``Result``), the exception ``map`` raises
(``JobFailed``), and reading a journal back (``read_journal``)."""

import base64
import json
import pickle

# The worker sends an exception as its summary, a blank line, then the
# traceback; see procmap._worker.
_TRACEBACK_MARK = "\n\nTraceback (most recent call last):\n"

_MISSING = object()


class Result:
    """The outcome of one item. A failing item is a Result too: nothing is
    raised for it while the run goes on.

    Attributes:
        index:     the item's position in the input (0-based).
        item:      the item itself (unpickled on first access).
        ok:        True when the function returned.
        value:     what it returned (None unless ok).
        status:    "ok"; "error" (the function raised, or the item or its
                   value could not be pickled); "crashed" (the item killed
                   its worker process on every attempt: segfault,
                   os._exit, the kernel's OOM killer); "timeout" (it ran
                   longer than the pool's timeout and was killed).
        error:     one line on what went wrong, e.g.
                   "ZeroDivisionError: division by zero" (None when ok).
        traceback: the worker's traceback as text, for an exception.
        signal:    the signal that killed the worker, e.g. "SIGSEGV"
                   (crashed only).
        exit_code: the worker's exit code when it exited instead, e.g. 3
                   after os._exit(3) (crashed only).
        stderr:    the end of the worker's stderr when it died (crashed and
                   timeout): with faulthandler on in workers, a segfault
                   leaves the Python stack of the crash here.
        attempts:  how many times the item was started.
        worker:    the pid of the worker that ran it last.
        ms:        its run time in milliseconds.
    """

    __slots__ = (
        "index",
        "ok",
        "value",
        "status",
        "error",
        "traceback",
        "signal",
        "exit_code",
        "stderr",
        "attempts",
        "worker",
        "ms",
        "_payload",
        "_item",
    )

    @property
    def item(self):
        if self._item is _MISSING:
            self._item = pickle.loads(base64.b64decode(self._payload)) if self._payload else None
        return self._item

    def __repr__(self):
        if self.ok:
            return f"<Result index={self.index} ok value={self.value!r}>"
        return f"<Result index={self.index} {self.status}: {self.error}>"


def _split_error(text):
    if text is None:
        return None, None
    head, mark, tail = text.partition(_TRACEBACK_MARK)
    if not mark:
        return text, None
    return head, mark.lstrip("\n") + tail


def from_record(line, status, value, error, signal, exit_code, stderr, attempts, worker, ms, payload, item=_MISSING):
    """Builds a Result from the fields of an engine record (see
    crates/procmap-py/src/run.rs)."""
    r = Result.__new__(Result)
    r.index = line - 1
    r.status = status
    r.ok = status == "ok"
    r.value = None
    r.error, r.traceback = _split_error(error)
    if r.ok:
        try:
            r.value = pickle.loads(base64.b64decode(value))
        except Exception as e:  # the value's class may exist only in the worker
            r.ok, r.status = False, "error"
            r.error = f"cannot unpickle the value in the parent process: {type(e).__name__}: {e}"
    r.signal = signal
    r.exit_code = exit_code
    r.stderr = stderr
    r.attempts = attempts
    r.worker = worker
    r.ms = ms
    r._payload = payload
    r._item = item
    return r


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as text; it is the
    ``__cause__`` of a ``JobFailed``, as in concurrent.futures."""

    def __str__(self):
        return self.args[0]


class JobFailed(Exception):
    """Raised by ``Pool.map`` (unless ``return_failures=True``) after the
    whole run is recorded, for the first item in input order that failed.
    ``.result`` is that item's ``Result``; ``.failures`` is how many items
    failed in all."""

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


def read_journal(path):
    """Every record of a journal written by ``Pool(journal=...)``, as a list
    of Result, in the order they were written. An item rerun by
    ``resume=True`` appears once per run. A torn last line (the process
    died while writing it) is skipped. ``read_journal_records`` gives the
    raw dictionaries, with the function's name in "task"."""
    results = []
    for record in read_journal_records(path):
        args = record.get("args") or [None]
        results.append(
            from_record(
                record["line"],
                record["status"],
                record.get("value"),
                record.get("error"),
                record.get("signal"),
                record.get("exit_code"),
                record.get("stderr"),
                record.get("attempts", 0),
                record.get("worker"),
                record.get("ms"),
                args[0],
            )
        )
    return results


def read_journal_records(path):
    """The journal's records as dictionaries (the engine's JSON Lines:
    line, task, args, status, value, error, signal, exit_code, stderr,
    attempts, worker, ms); ``value`` and ``args[0]`` are base64 pickles."""
    records = []
    with open(path, encoding="utf-8") as f:
        for text in f:
            try:
                records.append(json.loads(text))
            except ValueError:
                continue
    return records
