//! What a run counts besides its records: per worker, chunks, start-up.

use std::time::Duration;

/// Per-worker counters for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Pid in process mode, thread number in thread mode, 0 in serial mode.
    pub id: u32,
    pub jobs: u64,
    /// Time spent inside jobs.
    pub busy: Duration,
    /// When its last result arrived, from the start of the run.
    pub last_result: Duration,
}

/// What a finished run reports besides its records.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub workers: Vec<WorkerStats>,
    /// Worker processes started, including replacements.
    pub spawned: u32,
    pub wall: Duration,
    /// The chunks sent (process and thread modes).
    pub chunks: ChunkStats,
    /// From the start of the run until every initial worker process had
    /// answered the handshake (process mode).
    pub startup: Option<Duration>,
    /// `--mode auto`: its first decision and every change, in order.
    pub auto: Vec<AutoChange>,
}

/// The decisions of an auto run so far, shared by its dispatcher and its
/// [`crate::Run`], so that a journal can record each as it is made.
#[derive(Debug, Clone, Default)]
pub struct AutoLog(std::sync::Arc<std::sync::Mutex<Vec<AutoChange>>>);

impl AutoLog {
    pub(crate) fn push(&self, change: AutoChange) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(change);
    }

    /// The decisions after the first `seen`.
    pub fn since(&self, seen: usize) -> Vec<AutoChange> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.get(seen..).map(<[AutoChange]>::to_vec).unwrap_or_default()
    }
}

/// One decision of `--mode auto` (see `crate::auto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoChange {
    /// When it was made, from the start of the run.
    pub at: Duration,
    pub procs: usize,
    /// Threads per worker from then on.
    pub threads: usize,
    /// Why, in words: e.g. "jobs use 1% of a CPU while they run: the jobs
    /// wait, a first guess: 2 procs × 64 threads".
    pub reason: String,
}

/// How many chunks were sent and how big they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkStats {
    pub count: u64,
    pub jobs: u64,
    pub min: usize,
    pub max: usize,
}

impl ChunkStats {
    pub(crate) fn record(&mut self, size: usize) {
        self.min = if self.count == 0 { size } else { self.min.min(size) };
        self.max = self.max.max(size);
        self.count += 1;
        self.jobs += size as u64;
    }

    /// Mean jobs per chunk.
    pub fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.jobs as f64 / self.count as f64 }
    }
}
