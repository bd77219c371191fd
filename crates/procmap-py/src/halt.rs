//! `halt=` for the Python pool: procmap-batch's halt policy, the one the
//! command line's `--halt` uses, fed a chunk's statuses at a time.

use procmap_batch::halt::{Halt, Policy, When};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Mutex;

/// The statuses of one call's items so far, against a policy.
#[pyclass(module = "procmap._native")]
pub(crate) struct NativeHalt(Mutex<Halt>);

#[pymethods]
impl NativeHalt {
    /// `policy` as GNU parallel writes it: `soon,fail=3`, `now,fail=10%`,
    /// `soon,success=1`. A bad one raises ValueError saying why.
    #[new]
    fn new(policy: &str) -> PyResult<Self> {
        let policy: Policy =
            policy.parse().map_err(|e: String| PyValueError::new_err(format!("procmap: halt={e}")))?;
        Ok(NativeHalt(Mutex::new(Halt::new(policy))))
    }

    /// Notes `ok` and `failed` items that finished together; returns
    /// "soon" or "now" once, when the condition first holds.
    fn observe(&self, ok: u64, failed: u64) -> Option<&'static str> {
        let mut halt = self.0.lock().unwrap_or_else(|p| p.into_inner());
        halt.observe_counts(ok, failed).map(|when| match when {
            When::Soon => "soon",
            When::Now => "now",
        })
    }

    /// Why the call halted, or None.
    fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).reason("halt=")
    }

    fn __repr__(&self) -> String {
        format!("NativeHalt({:?})", self.0.lock().unwrap_or_else(|p| p.into_inner()).policy().to_string())
    }
}
