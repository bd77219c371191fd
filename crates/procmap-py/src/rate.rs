//! The progress bar's rate for `Pool(progress=True)`: procmap-batch's, as
//! the command line's progress line shows it.

use procmap_batch::rate::{self, Recent};
use pyo3::prelude::*;
use std::sync::Mutex;
use std::time::Instant;

/// The recent rate of a run (the last few seconds), as a person reads it.
#[pyclass(module = "procmap._native")]
pub(crate) struct RecentRate(Mutex<Recent>);

#[pymethods]
impl RecentRate {
    #[new]
    fn new() -> Self {
        RecentRate(Mutex::new(Recent::new(Instant::now())))
    }

    /// Notes `done` items now; the rate as a label ("24 jobs/s", "30
    /// jobs/min"), once some time has passed.
    fn update(&self, done: u64) -> Option<String> {
        let mut recent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        recent.update(Instant::now(), done).map(rate::label)
    }
}
