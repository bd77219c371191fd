//! Reading a journal back (`procmap.read_journal`, and `Pool.map`'s values
//! of the items a resume skipped), through procmap-batch's reader: which
//! lines are headers, records or torn is decided there, not here.

use crate::codec;
use crate::result::{ItemResult, from_record};
use procmap_batch::identity::Identity;
use procmap_batch::lookup::{for_each_record, latest_of, latest_records};
use procmap_batch::previous::PreviousError;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// Every record of the journal at `path` as a Result, in the order written.
#[pyfunction]
pub(crate) fn read_journal(py: Python<'_>, path: PathBuf) -> PyResult<Vec<ItemResult>> {
    must_exist(&path)?;
    let pickler = codec::pickler(py)?;
    let mut results = Vec::new();
    for_each_record(&path, |found| {
        let index = found.record.line.saturating_sub(1);
        results.push(from_record(py, pickler, &found.record, index));
    })
    .map_err(|e| read_error(&path, e))?;
    Ok(results)
}

/// Every record of the journal at `path` as its JSON text (one line each),
/// in the order written.
#[pyfunction]
pub(crate) fn read_journal_lines(path: PathBuf) -> PyResult<Vec<String>> {
    must_exist(&path)?;
    let mut lines = Vec::new();
    for_each_record(&path, |found| {
        // A record parsed, so its text is UTF-8.
        lines.push(String::from_utf8_lossy(found.text).into_owned());
    })
    .map_err(|e| read_error(&path, e))?;
    Ok(lines)
}

/// The Results of the items a resumed run skipped, `(index, hash,
/// occurrence)` each, from the latest record of each in the journal at
/// `path`; an item without a record is left out.
#[pyfunction]
pub(crate) fn recall(
    py: Python<'_>,
    path: PathBuf,
    items: Vec<(u64, u64, u32)>,
) -> PyResult<Vec<ItemResult>> {
    let jobs: Vec<Identity> =
        items.iter().map(|&(_, hash, occurrence)| Identity { hash, occurrence }).collect();
    let latest = py.detach(|| latest_records(&path, &jobs)).map_err(|e| read_error(&path, e))?;
    let pickler = codec::pickler(py)?;
    Ok(items
        .iter()
        .zip(&jobs)
        .filter_map(|(&(index, _, _), job)| latest.get(job).map(|r| from_record(py, pickler, r, index)))
        .collect())
}

/// The latest record of every job a journal holds, read once: where a
/// resumed stream of `submit` calls finds the values of the calls it skips
/// as they come, one at a time (a `recall` each would read the journal
/// each time). It holds the records it has not handed out.
#[pyclass(module = "procmap._native")]
pub(crate) struct JournalIndex {
    path: PathBuf,
    latest: std::sync::Mutex<std::collections::HashMap<Identity, procmap::JobRecord>>,
}

#[pymethods]
impl JournalIndex {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let latest = py.detach(|| latest_of(&path, |_| true)).map_err(|e| read_error(&path, e))?;
        Ok(JournalIndex { path, latest: std::sync::Mutex::new(latest) })
    }

    /// The Result of job `(hash, occurrence)`, as the item at `index`, or
    /// None if the journal had no record of it; a job is handed out once.
    fn take(&self, py: Python<'_>, index: u64, hash: u64, occurrence: u32) -> PyResult<Option<ItemResult>> {
        let record =
            self.latest.lock().unwrap_or_else(|p| p.into_inner()).remove(&Identity { hash, occurrence });
        let pickler = codec::pickler(py)?;
        Ok(record.map(|r| from_record(py, pickler, &r, index)))
    }

    fn __repr__(&self) -> String {
        format!("JournalIndex({})", self.path.display())
    }
}

fn must_exist(path: &Path) -> PyResult<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(pyo3::exceptions::PyOSError::new_err((
            e.raw_os_error().unwrap_or(0),
            e.to_string(),
            path.to_owned(),
        ))),
    }
}

/// A journal that cannot be read: an OSError for the file, a ValueError
/// for a newer format.
pub(crate) fn read_error(path: &Path, e: PreviousError) -> PyErr {
    let message = format!("cannot read journal {}: {}", path.display(), chain(&e));
    match e {
        PreviousError::Io(_) => pyo3::exceptions::PyOSError::new_err(message),
        _ => pyo3::exceptions::PyValueError::new_err(message),
    }
}

/// An error and its sources, joined by ": ".
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// Writes the report of the journals at `paths` (or a run directory) to
/// `output`, as `supervisor report` does; returns (records, drawn).
#[pyfunction]
pub(crate) fn report(py: Python<'_>, paths: Vec<PathBuf>, output: PathBuf) -> PyResult<(u64, usize)> {
    py.detach(|| {
        let rendered = procmap_report::render(&paths)?;
        procmap_report::write(&rendered.page, &output)?;
        Ok((rendered.page.records, rendered.page.drawn))
    })
    .map_err(|e: procmap_report::ReportError| {
        pyo3::exceptions::PyValueError::new_err(format!("procmap.report: {}", chain(&e)))
    })
}
