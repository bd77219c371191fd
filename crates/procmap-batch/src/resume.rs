//! The resume decision: which jobs a resumed run skips. One function
//! ([`decide`]) that the CLI's input filter and the Python package both call.

use crate::previous::Previous;
use procmap::Status;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a resumed run does with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No record, or a failed one under `--resume-failed`: it runs.
    Run,
    /// Recorded ok: skipped, and its outputs stay claimed.
    Done,
    /// Recorded as failed, and failures are not rerun: skipped; it wrote
    /// no output, so it claims none.
    Failed,
}

/// The decision for a job whose latest record has `latest` status.
pub fn decide(latest: Option<Status>, rerun_failed: bool) -> Decision {
    match latest {
        None => Decision::Run,
        Some(Status::Ok) => Decision::Done,
        Some(_) if rerun_failed => Decision::Run,
        Some(_) => Decision::Failed,
    }
}

/// A job as a resumed run sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub decision: Decision,
    /// The job's occurrence, when the old journal knows its hash: the
    /// record the run writes for it says so (see [`crate::occurrence`]).
    pub occurrence: Option<u32>,
}

/// What a resumed run skips.
pub struct Resume {
    previous: Previous,
    /// `--resume-failed`: rerun the jobs whose latest record is not ok.
    rerun_failed: bool,
    /// Counts the jobs skipped.
    skipped: Arc<AtomicU64>,
    /// Counts the jobs skipped whose latest record is not ok: a run that
    /// leaves them so has not done its batch, and exits as if it had run
    /// them and seen them fail.
    left_failed: Arc<AtomicU64>,
}

impl Resume {
    pub fn new(previous: Previous, rerun_failed: bool) -> Resume {
        Resume { previous, rerun_failed, skipped: Arc::default(), left_failed: Arc::default() }
    }

    /// The count of jobs skipped so far, shared with whoever reports it.
    pub fn skipped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.skipped)
    }

    /// The count of skipped jobs whose latest record is not ok.
    pub fn left_failed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.left_failed)
    }

    /// Decides the next job of the batch, in batch order, whose hash is
    /// `hash`.
    pub fn admit(&mut self, hash: u64) -> Admission {
        let (occurrence, latest) = match self.previous.next(hash) {
            Some((occurrence, latest)) => (Some(occurrence), latest),
            None => (None, None),
        };
        let decision = decide(latest, self.rerun_failed);
        if decision != Decision::Run {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        if decision == Decision::Failed {
            self.left_failed.fetch_add(1, Ordering::Relaxed);
        }
        Admission { decision, occurrence }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_jobs_are_done_failed_ones_rerun_only_when_asked() {
        let table = [
            (None, false, Decision::Run),
            (None, true, Decision::Run),
            (Some(Status::Ok), false, Decision::Done),
            (Some(Status::Ok), true, Decision::Done),
            (Some(Status::Error), false, Decision::Failed),
            (Some(Status::Error), true, Decision::Run),
            (Some(Status::Crashed), false, Decision::Failed),
            (Some(Status::Timeout), true, Decision::Run),
        ];
        for (latest, rerun_failed, want) in table {
            assert_eq!(decide(latest, rerun_failed), want, "{latest:?} rerun_failed={rerun_failed}");
        }
    }
}
