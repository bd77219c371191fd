//! `procmap.Result`: what a run yields per item, built here rather than in
//! Python because a million of them must cost little on the thread that
//! also feeds the pool.

use crate::codec::{self, Pickler};
use procmap::JobRecord;
use pyo3::prelude::*;

/// The worker sends an exception as its summary, this mark, then the rest
/// of its traceback (see `procmap._worker.describe`).
const TRACEBACK_MARK: &str = "\n\nTraceback (most recent call last):\n";

/// The outcome of one item. A failing item is a Result too: nothing is
/// raised for it while the run goes on.
///
/// Attributes:
///     index:     the item's position in the input (0-based).
///     item:      the item itself (decoded from its JSON or pickle on first
///                access).
///     ok:        True when the function returned.
///     value:     what it returned (None unless ok).
///     status:    "ok"; "error" (the function raised, or the item or its
///                value could not be pickled, nor written as JSON); "crashed" (the item killed
///                its worker process on every attempt: segfault, os._exit,
///                the kernel's OOM killer); "timeout" (it ran longer than
///                the pool's timeout and was killed).
///     error:     one line on what went wrong, e.g.
///                "ZeroDivisionError: division by zero" (None when ok).
///     traceback: the worker's traceback as text, for an exception.
///     signal:    the signal that killed the worker, e.g. "SIGSEGV"
///                (crashed only).
///     exit_code: the worker's exit code when it exited instead, e.g. 3
///                after os._exit(3) (crashed only).
///     stdout:    the last 4 KiB of what the function printed to stdout,
///                with capture="tail" (None when it printed nothing, and
///                without capture).
///     stderr:    likewise for stderr; for an item that crashed or timed
///                out, the end of the dying worker's stderr (whatever the
///                capture): workers enable faulthandler, so a segfault
///                leaves the Python stack of the crash here.
///     attempts:  how many times the item was started.
///     worker:    the pid of the worker that ran it last.
///     ms:        its run time in milliseconds.
#[pyclass(name = "Result", module = "procmap")]
pub(crate) struct ItemResult {
    #[pyo3(get)]
    index: u64,
    #[pyo3(get)]
    ok: bool,
    #[pyo3(get)]
    value: Py<PyAny>,
    #[pyo3(get)]
    status: &'static str,
    #[pyo3(get)]
    error: Option<String>,
    #[pyo3(get)]
    traceback: Option<String>,
    #[pyo3(get)]
    signal: Option<String>,
    #[pyo3(get)]
    exit_code: Option<i32>,
    #[pyo3(get)]
    stdout: Option<String>,
    #[pyo3(get)]
    stderr: Option<String>,
    #[pyo3(get)]
    attempts: u32,
    #[pyo3(get)]
    worker: Option<u32>,
    #[pyo3(get)]
    ms: Option<f64>,
    /// The item's text in its record (JSON, or `pickle:` and base64; see
    /// [`crate::codec`]), until `item` is first read.
    payload: Option<String>,
    item: Option<Py<PyAny>>,
}

#[pymethods]
impl ItemResult {
    #[getter]
    fn item(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(item) = &self.item {
            return Ok(item.clone_ref(py));
        }
        let item = match &self.payload {
            Some(text) => codec::pickler(py)?.item(py, text)?.unbind(),
            None => py.None(),
        };
        self.payload = None;
        self.item = Some(item.clone_ref(py));
        Ok(item)
    }

    /// Sets the item, for one that could not be pickled (it never left
    /// this process).
    fn _set_item(&mut self, item: Py<PyAny>) {
        self.payload = None;
        self.item = Some(item);
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        if self.ok {
            let value = self.value.bind(py).repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
            format!("<Result index={} ok value={value}>", self.index)
        } else {
            format!("<Result index={} {}: {}>", self.index, self.status, self.error.as_deref().unwrap_or(""))
        }
    }
}

/// The Result of a record; `index` is the item's position in the input
/// (the record's line - 1, unless the item has moved since it was
/// recorded: a resume matches items by content).
pub(crate) fn from_record(py: Python<'_>, pickler: &Pickler, record: &JobRecord, index: u64) -> ItemResult {
    let (mut error, traceback) = match record.error.clone() {
        Some(text) => match text.split_once(TRACEBACK_MARK) {
            Some((summary, rest)) => {
                (Some(summary.to_owned()), Some(format!("Traceback (most recent call last):\n{rest}")))
            }
            None => (Some(text), None),
        },
        None => (None, None),
    };
    let mut status = record.status.as_str();
    let mut value = py.None();
    if record.status == procmap::Status::Ok {
        let decoded = match &record.value {
            Some(raw) => pickler.value(py, raw.get()).map_err(|e| e.to_string()),
            // `"value":null` reads as no value: a function that returned None.
            None => Ok(py.None().into_bound(py)),
        };
        match decoded {
            Ok(v) => value = v.unbind(),
            // The value's class may exist only in the worker.
            Err(e) => {
                status = "error";
                error = Some(format!("cannot unpickle the value in the parent process: {e}"));
            }
        }
    }
    ItemResult {
        index,
        ok: status == "ok",
        value,
        status,
        error,
        traceback,
        signal: record.signal.clone(),
        exit_code: record.exit_code,
        stdout: record.stdout.clone(),
        stderr: record.stderr.clone(),
        attempts: record.attempts,
        worker: record.worker,
        ms: record.ms,
        payload: record.args.first().cloned(),
        item: None,
    }
}

/// A Result made by Python (`procmap._calls`) for an item of a chunk.
#[pyfunction]
#[pyo3(signature = (index, item, ok, value, status, error=None, traceback=None, signal=None, exit_code=None,
    stderr=None, attempts=1, worker=None, ms=None, stdout=None))]
#[expect(clippy::too_many_arguments, reason = "a Result's fields, from Python")]
pub(crate) fn make_result(
    index: u64,
    item: Py<PyAny>,
    ok: bool,
    value: Py<PyAny>,
    status: &str,
    error: Option<String>,
    traceback: Option<String>,
    signal: Option<String>,
    exit_code: Option<i32>,
    stderr: Option<String>,
    attempts: u32,
    worker: Option<u32>,
    ms: Option<f64>,
    stdout: Option<String>,
) -> PyResult<ItemResult> {
    let status = procmap::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .find(|s| *s == status)
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown status {status:?}")))?;
    Ok(ItemResult {
        index,
        ok,
        value,
        status,
        error,
        traceback,
        signal,
        exit_code,
        stdout,
        stderr,
        attempts,
        worker,
        ms,
        payload: None,
        item: Some(item),
    })
}
