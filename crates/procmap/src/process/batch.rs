//! A batch of jobs on its way to a worker: a fresh chunk or a rerun. Apart
//! from flow control (`flow.rs`), which extends the dispatcher, because the
//! dispatcher's own state holds batches (its rerun queue).

use super::state::Tracked;
use crate::input::{CHUNK_BYTES, Cut, job_bytes};

/// A batch of jobs waiting to be sent.
pub(super) struct Batch {
    pub(super) jobs: Vec<Tracked>,
    /// A suspect rerun alone: its worker gets nothing else meanwhile, so a
    /// second crash blames only this job.
    pub(super) solo: bool,
    /// The jobs' size, as counted against [`CHUNK_BYTES`].
    bytes: usize,
}

impl Batch {
    /// Jobs to rerun, whose size is counted again.
    pub(super) fn rerun(jobs: Vec<Tracked>, solo: bool) -> Self {
        let bytes = jobs.iter().map(|p| job_bytes(&p.job)).sum();
        Batch { jobs, solo, bytes }
    }

    /// A chunk fresh from the feeder, which counted its size; a job sent
    /// to run alone is a suspect's rerun to the dispatcher.
    pub(super) fn fresh(cut: Cut) -> Self {
        Batch { jobs: cut.jobs.into_iter().map(Tracked::new).collect(), solo: cut.alone, bytes: cut.bytes }
    }

    /// Whether only an idle worker may take it: a suspect, or more bytes
    /// than may be queued behind another chunk.
    pub(super) fn needs_idle(&self) -> bool {
        self.solo || self.bytes > CHUNK_BYTES
    }
}
