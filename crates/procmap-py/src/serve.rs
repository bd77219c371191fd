//! The worker side: a Python process serving the engine's protocol with one
//! task that calls the user's function.

use procmap::{JobError, Registry, RunContext, Task};
use pyo3::prelude::*;

/// Calls `call(payload)` for each job; `call` is `procmap._worker`'s
/// wrapper around the user's function. It returns `(True, value_b64)` or
/// `(False, message)` and does not raise: the user's exception is turned
/// into text there, with its traceback, where it is easy to format.
struct PyTask {
    name: String,
    call: Py<PyAny>,
}

impl Task for PyTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn usage(&self) -> &str {
        "PICKLE_B64"
    }

    fn about(&self) -> &str {
        "a Python function, called with one pickled item"
    }

    fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
        let [payload] = args else { return Err(JobError::usage(self, args)) };
        Python::attach(|py| {
            let answer =
                self.call.bind(py).call1((payload.as_str(),)).and_then(|r| r.extract::<(bool, String)>());
            match answer {
                Ok((true, value)) => Ok(serde_json::Value::String(value)),
                Ok((false, message)) => Err(JobError::new(message)),
                Err(e) => Err(JobError::new(format!("procmap's worker wrapper failed: {e}"))),
            }
        })
    }
}

/// Serves jobs until the supervisor says stop or goes away. The GIL is
/// released while the engine waits for chunks; each job takes it back.
#[pyfunction]
pub(crate) fn serve(py: Python<'_>, name: String, call: Py<PyAny>) -> PyResult<()> {
    let mut registry = Registry::new();
    registry.register(PyTask { name, call });
    py.detach(|| procmap::worker::serve(registry))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("procmap worker: {e}")))
}
