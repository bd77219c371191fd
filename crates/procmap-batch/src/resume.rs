//! The resume decision: which jobs a resumed run skips. One function
//! ([`decide`]) that the CLI's input filter and the Python package both call.

use crate::journal::{Header, Journal};
use crate::previous::{Previous, PreviousError};
use procmap::Status;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// Why a journal could not be opened for a resumed run.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Locked by another writer (`ErrorKind::ResourceBusy`), or not
    /// writable.
    #[error("cannot write the journal")]
    Write(#[source] std::io::Error),
    #[error("cannot read the journal")]
    Read(#[source] PreviousError),
}

/// Opens the journal at `path` to append to it, and reads what it records
/// for the resume: locked (and its torn tail cut) before it is read, so
/// that a second run resuming it is refused before the reading, and never
/// runs the jobs the first one runs.
pub fn open(
    path: &std::path::Path,
    header: &Header,
    rerun_failed: bool,
) -> Result<(Journal, Resume), OpenError> {
    let journal = Journal::file(path, true, header).map_err(OpenError::Write)?;
    let previous = Previous::load(path).map_err(OpenError::Read)?;
    Ok((journal, Resume::new(previous, rerun_failed)))
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
    /// The occurrences learnt, for the journal writer.
    repeats: Repeats,
}

impl Resume {
    pub fn new(previous: Previous, rerun_failed: bool) -> Resume {
        Resume {
            previous,
            rerun_failed,
            skipped: Arc::default(),
            left_failed: Arc::default(),
            repeats: Repeats::default(),
        }
    }

    /// Lines of the old journal that are not records (foreign text; a torn
    /// tail is cut before reading).
    pub fn torn_lines(&self) -> usize {
        self.previous.torn_lines
    }

    /// The count of jobs skipped so far, shared with whoever reports it.
    pub fn skipped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.skipped)
    }

    /// The count of skipped jobs whose latest record is not ok.
    pub fn left_failed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.left_failed)
    }

    /// The occurrences above 0 of the jobs that run, by line, shared with
    /// whoever writes their records.
    pub fn repeats(&self) -> Repeats {
        self.repeats.clone()
    }

    /// Decides the next job of the batch, in batch order, whose hash is
    /// `hash` and whose line (an item's index + 1 in Python) is `line`. A
    /// job that runs and repeats an earlier one has its occurrence noted in
    /// [`Resume::repeats`], for its record.
    pub fn admit(&mut self, hash: u64, line: u64) -> Admission {
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
        if let Some(occurrence) = occurrence.filter(|&k| k > 0 && decision == Decision::Run) {
            self.repeats.insert(line, occurrence);
        }
        Admission { decision, occurrence }
    }
}

/// Occurrence indices above 0, by line number, passed from the thread that
/// admits jobs to the journal writer, which writes them into the records of
/// repeated jobs. Only a resume knows occurrences, and only of the hashes
/// its old journal holds; empty, and never locked, otherwise.
#[derive(Clone, Default)]
pub struct Repeats {
    any: Arc<AtomicBool>,
    lines: Arc<Mutex<HashMap<u64, u32>>>,
}

impl Repeats {
    fn insert(&self, line: u64, occurrence: u32) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).insert(line, occurrence);
        self.any.store(true, Ordering::Release);
    }

    /// Whether no occurrence was ever noted.
    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// The occurrence index of the job on `line` (0 for most jobs), once.
    pub fn take(&self, line: u64) -> u32 {
        if !self.any.load(Ordering::Acquire) {
            return 0;
        }
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).remove(&line).unwrap_or(0)
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
