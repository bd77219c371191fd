//! The worker side: a Python process serving the engine's protocol with one
//! task that calls the user's function.

use crate::codec::{PICKLE_PREFIX, Pickler};
use procmap::{JobError, Registry, RunContext, Task};
use pyo3::prelude::*;

/// Calls the user's function on one item, as its record's text has it (see
/// [`crate::codec`]), and returns the value as JSON, or pickled. These steps
/// are calls from here rather than a Python wrapper: on small jobs the
/// wrapper's own bytecode would cost more than the job.
struct PyTask {
    name: String,
    function: Py<PyAny>,
    pickler: Pickler,
    /// `procmap._worker.describe`: an exception as summary and traceback.
    describe: Py<PyAny>,
}

impl Task for PyTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn usage(&self) -> &str {
        "ITEM"
    }

    fn about(&self) -> &str {
        "a Python function, called with one item (JSON text, or pickle: and base64)"
    }

    fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
        let [text] = args else { return Err(JobError::usage(self, args)) };
        Python::attach(|py| {
            let item = self.pickler.item(py, text).map_err(|e| {
                let how = if text.starts_with(PICKLE_PREFIX) { "unpickle" } else { "decode" };
                JobError::new(format!("cannot {how} the item in the worker: {e}"))
            })?;
            let value = self.function.bind(py).call1((item,)).map_err(|e| self.describe(py, e))?;
            self.pickler
                .value_json(&value)
                .map_err(|e| JobError::new(format!("cannot pickle the return value: {e}")))
        })
    }
}

impl PyTask {
    fn describe(&self, py: Python<'_>, error: PyErr) -> JobError {
        describe(&self.describe, py, error)
    }
}

/// The user's exception as a job error, via `procmap._worker.describe`.
fn describe(describe: &Py<PyAny>, py: Python<'_>, error: PyErr) -> JobError {
    // Before Python 3.12 a fetched exception does not carry its traceback:
    // pass it along.
    let traceback = error.traceback(py);
    let text = describe.bind(py).call1((error.value(py), traceback)).and_then(|t| t.extract::<String>());
    JobError::new(text.unwrap_or_else(|_| error.to_string()))
}

/// Serves jobs until the supervisor says stop or goes away. The GIL is
/// released while the engine waits for chunks; each job takes it back.
#[pyfunction]
pub(crate) fn serve(py: Python<'_>, name: String, function: Py<PyAny>, describe: Py<PyAny>) -> PyResult<()> {
    let pickler = Pickler::new(py)?;
    let mut registry = Registry::new();
    registry.register(PyTask { name, function, pickler, describe });
    py.detach(|| procmap::worker::serve(registry))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("procmap worker: {e}")))
}

/// A `@procmap.task` function for the command line: a job line's words are
/// its arguments, and its return value, as JSON, is the record's value.
struct LineTask {
    name: String,
    usage: String,
    about: String,
    function: Py<PyAny>,
    /// `procmap._tasks.to_json`.
    to_json: Py<PyAny>,
    describe: Py<PyAny>,
}

impl Task for LineTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn usage(&self) -> &str {
        &self.usage
    }

    fn about(&self) -> &str {
        &self.about
    }

    fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
        Python::attach(|py| {
            let args = pyo3::types::PyTuple::new(py, args).map_err(|e| JobError::new(e.to_string()))?;
            let value = self.function.bind(py).call1(args).map_err(|e| describe(&self.describe, py, e))?;
            let text = self
                .to_json
                .bind(py)
                .call1((value,))
                .and_then(|t| t.extract::<String>())
                .map_err(|e| JobError::new(format!("the return value is not JSON-serializable: {e}")))?;
            serde_json::from_str(&text)
                .map_err(|e| JobError::new(format!("the return value's JSON is invalid: {e}")))
        })
    }
}

/// Serves the tasks `(name, usage, about, function)` of a Python file for
/// `supervisor --worker`.
#[pyfunction]
pub(crate) fn serve_tasks(
    py: Python<'_>,
    tasks: Vec<(String, String, String, Py<PyAny>)>,
    to_json: Py<PyAny>,
    describe: Py<PyAny>,
) -> PyResult<()> {
    let mut registry = Registry::new();
    for (name, usage, about, function) in tasks {
        let (to_json, describe) = (to_json.clone_ref(py), describe.clone_ref(py));
        registry.register(LineTask { name, usage, about, function, to_json, describe });
    }
    py.detach(|| procmap::worker::serve(registry))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("procmap worker: {e}")))
}
