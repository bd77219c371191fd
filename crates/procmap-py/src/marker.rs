//! Which item of its chunk a worker is running, in a page the parent reads
//! after the worker died: how a crash is pinned on one item of a chunk
//! without running any item again to find out (issue 19, #12). The engine
//! marks the chunk (the job) the same way (`procmap::marker`); this marks
//! the item within it, with the engine's [`procmap::marker::Marker`].
//!
//! Each worker maps `DIR/<pid>` and stores `(job << INDEX_BITS) | index`
//! before each item. `DIR` is the pool's own directory (on /dev/shm where it
//! exists), made and removed by the parent; a worker removes its own file
//! when it ends normally.

use std::path::{Path, PathBuf};

/// Bits of the item's index in a chunk: chunks hold at most 4,096 items.
const INDEX_BITS: u32 = 20;

/// The worker's end: its mapped word.
pub(crate) struct Marker {
    marker: procmap::marker::Marker,
    path: PathBuf,
}

impl Marker {
    /// Creates and maps `dir/<this pid>`.
    pub(crate) fn create(dir: &Path) -> std::io::Result<Marker> {
        let path = dir.join(std::process::id().to_string());
        let _ = std::fs::remove_file(&path);
        Ok(Marker { marker: procmap::marker::Marker::open(&path)?, path })
    }

    /// Notes that item `index` of job `job` starts now.
    pub(crate) fn set(&self, job: u64, index: usize) {
        self.marker.set(pack(job, index));
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pack(job: u64, index: usize) -> u64 {
    (job << INDEX_BITS) | (index as u64 & ((1 << INDEX_BITS) - 1))
}

fn unpack(word: u64) -> (u64, usize) {
    (word >> INDEX_BITS, (word & ((1 << INDEX_BITS) - 1)) as usize)
}

/// The parent's end: the job and item a dead worker last started, and the
/// file removed. `None` if the worker never marked anything.
pub(crate) fn take(dir: &Path, pid: u32) -> Option<(u64, usize)> {
    let path = dir.join(pid.to_string());
    let word = procmap::marker::read(&path);
    let _ = std::fs::remove_file(&path);
    word.filter(|&w| w != 0).map(unpack)
}

/// A pool's directory of marker files (and spilled chunks, and its
/// template's socket): named after this process and locked while it is in
/// use, the stale ones of pools whose process is gone removed first (see
/// `procmap::markdir`).
#[pyo3::pyclass(module = "procmap._native")]
pub(crate) struct MarksDir(std::sync::Mutex<Option<procmap::markdir::Fresh>>);

#[pyo3::pymethods]
impl MarksDir {
    #[new]
    fn new() -> pyo3::PyResult<Self> {
        Ok(MarksDir(std::sync::Mutex::new(Some(procmap::markdir::fresh("procmap-marks")?))))
    }

    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|f| f.path.clone())
    }

    /// Removes the directory and lets go of its lock; later calls do
    /// nothing.
    fn remove(&self) {
        if let Some(fresh) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = std::fs::remove_dir_all(&fresh.path);
        }
    }
}
