//! `procmap.Result`: what a run yields per item, built here rather than in
//! Python because a million of them must cost little on the thread that
//! also feeds the pool.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use procmap::JobRecord;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The worker sends an exception as its summary, this mark, then the rest
/// of its traceback (see `procmap._worker.describe`).
const TRACEBACK_MARK: &str = "\n\nTraceback (most recent call last):\n";

/// The outcome of one item. A failing item is a Result too: nothing is
/// raised for it while the run goes on.
///
/// Attributes:
///     index:     the item's position in the input (0-based).
///     item:      the item itself (unpickled on first access).
///     ok:        True when the function returned.
///     value:     what it returned (None unless ok).
///     status:    "ok"; "error" (the function raised, or the item or its
///                value could not be pickled); "crashed" (the item killed
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
///     stderr:    the end of the worker's stderr when it died (crashed and
///                timeout): workers enable faulthandler, so a segfault
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
    stderr: Option<String>,
    #[pyo3(get)]
    attempts: u32,
    #[pyo3(get)]
    worker: Option<u32>,
    #[pyo3(get)]
    ms: Option<f64>,
    /// The item's pickle as base64 text, until `item` is first read.
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
        let item = match self.payload.take() {
            Some(payload) => unpickle(py, &payload)?,
            None => py.None(),
        };
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

fn unpickle<'py>(py: Python<'py>, b64: &str) -> PyResult<Py<PyAny>> {
    let bytes = BASE64
        .decode(b64)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("corrupt pickle text: {e}")))?;
    let loads = py.import("pickle")?.getattr("loads")?;
    Ok(loads.call1((PyBytes::new(py, &bytes),))?.unbind())
}

/// The fields of a record, as the journal has them.
pub(crate) struct Fields {
    pub line: u64,
    pub status: &'static str,
    pub value: Option<String>,
    pub error: Option<String>,
    pub signal: Option<String>,
    pub exit_code: Option<i32>,
    pub stderr: Option<String>,
    pub attempts: u32,
    pub worker: Option<u32>,
    pub ms: Option<f64>,
    pub payload: Option<String>,
}

impl Fields {
    pub(crate) fn from_record(record: &JobRecord) -> Self {
        // The value is a JSON string of base64 text, which needs no unescaping.
        let value = record.value.as_ref().map(|raw| {
            let text = raw.get();
            text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text).to_owned()
        });
        Fields {
            line: record.line,
            status: record.status.as_str(),
            value,
            error: record.error.clone(),
            signal: record.signal.clone(),
            exit_code: record.exit_code,
            stderr: record.stderr.clone(),
            attempts: record.attempts,
            worker: record.worker,
            ms: record.ms,
            payload: record.args.first().cloned(),
        }
    }

    /// The Result; `loads` is `pickle.loads`, looked up once per batch.
    pub(crate) fn into_result(self, py: Python<'_>, loads: &Bound<'_, PyAny>) -> ItemResult {
        let (mut error, traceback) = match self.error {
            Some(text) => match text.split_once(TRACEBACK_MARK) {
                Some((summary, rest)) => {
                    (Some(summary.to_owned()), Some(format!("Traceback (most recent call last):\n{rest}")))
                }
                None => (Some(text), None),
            },
            None => (None, None),
        };
        let mut status = self.status;
        let mut value = py.None();
        if status == "ok" {
            let decoded = self
                .value
                .as_deref()
                .ok_or_else(|| "no value recorded".to_owned())
                .and_then(|b64| BASE64.decode(b64).map_err(|e| format!("corrupt pickle text: {e}")))
                .and_then(|bytes| loads.call1((PyBytes::new(py, &bytes),)).map_err(|e| e.to_string()));
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
            index: self.line.saturating_sub(1),
            ok: status == "ok",
            value,
            status,
            error,
            traceback,
            signal: self.signal,
            exit_code: self.exit_code,
            stderr: self.stderr,
            attempts: self.attempts,
            worker: self.worker,
            ms: self.ms,
            payload: self.payload,
            item: None,
        }
    }
}

/// Builds a Result from a journal record's fields (`procmap.read_journal`).
#[pyfunction]
#[pyo3(signature = (line, status, value, error, signal, exit_code, stderr, attempts, worker, ms, payload))]
#[expect(clippy::too_many_arguments, reason = "one argument per journal field")]
pub(crate) fn result_from_record(
    py: Python<'_>,
    line: u64,
    status: &str,
    value: Option<String>,
    error: Option<String>,
    signal: Option<String>,
    exit_code: Option<i32>,
    stderr: Option<String>,
    attempts: u32,
    worker: Option<u32>,
    ms: Option<f64>,
    payload: Option<String>,
) -> PyResult<ItemResult> {
    let status = procmap::Status::ALL
        .into_iter()
        .find(|s| s.as_str() == status)
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown status {status:?}")))?
        .as_str();
    let fields =
        Fields { line, status, value, error, signal, exit_code, stderr, attempts, worker, ms, payload };
    let loads = py.import("pickle")?.getattr("loads")?;
    Ok(fields.into_result(py, &loads))
}
