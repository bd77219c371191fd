//! A pool call's journal (`procmap.Pool(journal=...)`): procmap-batch's,
//! as the command line's is. It is locked (a second writer is refused), its
//! torn tail cut before a call appends, a header starting each call's
//! segment. A resume decides each item with [`Resume::admit`] by its
//! identity (the function's name and the item's text, see
//! [`crate::codec`]), in input order, and the occurrence it learns goes
//! into the item's record.
//!
//! Records of items that ran come from the worker as entries written in
//! place into its answer ([`crate::chunk::Entry`]); this side queues them,
//! with the GIL released, and the journal's own writer thread reads them in
//! place and writes them as records ([`Fields`]).

use crate::chunk::{Entry, EntryReader};
use crate::codec;
use crate::error::PoolError as PyPoolError;
use crate::read::chain;
use procmap::{JobRecord, Status};
use procmap_batch::identity::job_hash;
use procmap_batch::journal::{Fields, Header, Journal, Millis};
use procmap_batch::resume::{Decision, OpenError, Repeats, Resume};
use procmap_batch::writer::JournalWriter;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A chunk's journal entries, still encoded, handed from
/// [`crate::pool::NativePool::poll`] to [`NativeJournal::write_chunk`]
/// without becoming Python objects.
#[pyclass(module = "procmap._native")]
pub(crate) struct Entries {
    pub bytes: Mutex<Vec<u8>>,
    /// When the chunk started, in ms since the engine's start: each item's
    /// `start` follows from the run times of the items before it.
    pub start: Option<f64>,
}

struct State {
    writer: JournalWriter,
    resume: Option<Resume>,
    /// Occurrences above 0 by line, learnt by the resume.
    repeats: Repeats,
}

/// One call's journal. Not for direct use: `procmap.Pool` drives it.
#[pyclass(module = "procmap._native")]
pub(crate) struct NativeJournal {
    path: PathBuf,
    state: Mutex<Option<State>>,
}

#[pymethods]
impl NativeJournal {
    /// Opens (and locks) the journal: truncated, or appended to when
    /// `append`; read first for a resume when `resume`. The header of an
    /// `auto` pool's segment says `"mode":"auto"`.
    #[new]
    #[pyo3(signature = (path, append, resume, auto=false))]
    fn new(py: Python<'_>, path: PathBuf, append: bool, resume: bool, auto: bool) -> PyResult<Self> {
        let (writer, resume) = py.detach(|| open(&path, append, resume, auto))?;
        let repeats = resume.as_ref().map_or_else(Repeats::default, Resume::repeats);
        Ok(NativeJournal { path, state: Mutex::new(Some(State { writer, resume, repeats })) })
    }

    /// Decides, for a resume, which of `items` (at `indices` of the call's
    /// input, in input order) are done already. Returns the skipped ones as
    /// `(position in items, hash, occurrence)`. Without a resume, none.
    fn admit(
        &self,
        py: Python<'_>,
        task: &str,
        indices: Vec<u64>,
        items: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(usize, u64, u32)>> {
        let pickler = codec::pickler(py)?;
        let mut guard = self.lock();
        let Some(resume) = guard.as_mut().and_then(|s| s.resume.as_mut()) else { return Ok(Vec::new()) };
        let mut skipped = Vec::new();
        for (position, (index, item)) in indices.iter().zip(&items).enumerate() {
            // An item that cannot be pickled fails later, as in a fresh run.
            let Ok(text) = pickler.item_text(item) else { continue };
            let hash = job_hash(task, std::slice::from_ref(&text));
            let admission = resume.admit(hash, index + 1);
            if admission.decision != Decision::Run {
                skipped.push((position, hash, admission.occurrence.unwrap_or(0)));
            }
        }
        Ok(skipped)
    }

    /// Queues the records of a chunk that ran: item `k` of the chunk is the
    /// input's item `indices[k]`, which had run `runs[k]` times before.
    /// `task` names the function: one name for a call's chunk, a list of
    /// one per item for a stream's (`submit` calls mix functions).
    fn write_chunk(
        &self,
        py: Python<'_>,
        task: Tasks,
        indices: Vec<u64>,
        entries: &Entries,
        worker: Option<u32>,
        runs: Vec<u32>,
    ) -> PyResult<()> {
        let start = entries.start;
        let entries = std::mem::take(&mut *entries.bytes.lock().unwrap_or_else(|p| p.into_inner()));
        let path = self.path.clone();
        let mut guard = self.lock();
        let Some(state) = guard.as_mut() else { return Err(closed(&path)) };
        let repeats = state.repeats.clone();
        // The records are written on the journal's thread: this one is the
        // one that feeds the pool.
        py.detach(|| {
            state.writer.write_with(move |journal| {
                write_entries(journal, &task, &indices, &runs, worker, start, &entries, &repeats)
            })
        })
        .map_err(|e| write_error(&path, &e))
    }

    /// Queues the record of an item that did not run to a value in a
    /// worker: it crashed, timed out, or could not be sent.
    #[pyo3(signature = (task, index, item, status, error, signal=None, exit_code=None, stderr=None, attempts=0, worker=None, start=None))]
    #[expect(clippy::too_many_arguments, reason = "a record's fields, from Python")]
    fn write_failed(
        &self,
        py: Python<'_>,
        task: String,
        index: u64,
        item: &Bound<'_, PyAny>,
        status: &str,
        error: String,
        signal: Option<String>,
        exit_code: Option<i32>,
        stderr: Option<String>,
        attempts: u32,
        worker: Option<u32>,
        start: Option<f64>,
    ) -> PyResult<()> {
        let text = codec::pickler(py)?.item_text(item).ok();
        let (args, error) = bounded(text, error);
        let mut record = JobRecord::rejected(index + 1, task, args, error);
        record.status = match status {
            "crashed" => Status::Crashed,
            "timeout" => Status::Timeout,
            _ => Status::Error,
        };
        (record.signal, record.exit_code, record.stderr) = (signal, exit_code, stderr);
        (record.attempts, record.worker, record.start) = (attempts, worker, start);
        let path = self.path.clone();
        let mut guard = self.lock();
        let Some(state) = guard.as_mut() else { return Err(closed(&path)) };
        let occurrence = state.repeats.take(index + 1);
        py.detach(|| state.writer.write(vec![(record, occurrence)])).map_err(|e| write_error(&path, &e))
    }

    /// Queues a decision of `mode="auto"` (made `at` seconds into the
    /// engine's run), as the command line writes its own: a line among the
    /// records. A journal already closed (its call ended) takes none.
    fn write_auto(
        &self,
        py: Python<'_>,
        at: f64,
        procs: usize,
        threads: usize,
        reason: String,
    ) -> PyResult<()> {
        let change = procmap::AutoChange {
            at: std::time::Duration::from_secs_f64(at.max(0.0)),
            procs,
            threads,
            reason,
        };
        let mut guard = self.lock();
        let Some(state) = guard.as_mut() else { return Ok(()) };
        py.detach(|| state.writer.write_with(move |journal| journal.write_auto(&change)))
            .map_err(|e| write_error(&self.path, &e))
    }

    /// Writes everything queued and closes the journal (its lock is
    /// released). Later calls do nothing.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let state = self.lock().take();
        match state {
            Some(mut state) => py.detach(|| state.writer.finish()).map_err(|e| write_error(&self.path, &e)),
            None => Ok(()),
        }
    }
}

impl NativeJournal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A failed item's text for its record, unless it is longer than a job
/// line may be: then the error quotes its start instead, as the command
/// line does for an overlong line (a record of hundreds of megabytes helps
/// nobody; a failed item runs again on resume either way).
fn bounded(text: Option<String>, error: String) -> (Vec<String>, String) {
    const EXCERPT_CHARS: usize = 60;
    match text {
        Some(text) if text.len() > procmap::wire::MAX_JOB_BYTES => {
            let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
            let note =
                format!("the item's text is {} bytes, not recorded; it starts with {excerpt:?}", text.len());
            (Vec::new(), if error.is_empty() { note } else { format!("{error} ({note})") })
        }
        text => (text.into_iter().collect(), error),
    }
}

/// The function names of a chunk's items.
#[derive(FromPyObject)]
pub(crate) enum Tasks {
    One(String),
    Each(Vec<String>),
}

impl Tasks {
    fn get(&self, k: usize) -> &str {
        match self {
            Tasks::One(task) => task,
            Tasks::Each(tasks) => tasks.get(k).map_or("?", String::as_str),
        }
    }
}

/// Writes the records of a chunk's entries (see [`write_chunk`]) as
/// [`Fields`] over the worker's answer, without a [`JobRecord`] each.
/// Each item's `start` follows from the run times of the items before it,
/// added up in whole nanoseconds (a sum of milliseconds in floating point
/// drifts into 17-digit numbers, which print slowly and read badly).
#[expect(clippy::too_many_arguments, reason = "a chunk's parts, as Python hands them over")]
fn write_entries(
    journal: &mut Journal,
    task: &Tasks,
    indices: &[u64],
    runs: &[u32],
    worker: Option<u32>,
    start: Option<f64>,
    entries: &[u8],
    repeats: &Repeats,
) -> std::io::Result<()> {
    let mut start_nanos = start.map(|ms| (ms * 1e6).round() as u64);
    let mut entries = EntryReader::new(entries);
    for (k, (&index, &runs)) in indices.iter().zip(runs).enumerate() {
        let task = task.get(k);
        let line = index + 1;
        let broken: String;
        let entry = match entries.next() {
            Some(Ok(entry)) => entry,
            // A corrupt answer is our own worker's bug: said in the
            // journal rather than lost.
            other => {
                broken = match other {
                    Some(Err(e)) => e,
                    _ => "the worker's answer has no journal entry for this item".to_owned(),
                };
                Entry { item: "", outcome: Err(&broken), nanos: 0, stdout: None, stderr: None }
            }
        };
        let (status, value, error) = match entry.outcome {
            Ok(json) => (Status::Ok, Some(json), None),
            Err(error) => (Status::Error, None, Some(error)),
        };
        journal.append_fields(&Fields {
            line,
            occurrence: repeats.take(line),
            task,
            args: &[entry.item],
            status,
            value,
            error,
            signal: None,
            exit_code: None,
            stdout: entry.stdout,
            stderr: entry.stderr,
            attempts: runs + 1,
            worker,
            ms: Some(Millis::Nanos(entry.nanos)),
            start: start_nanos.map(Millis::Nanos),
            cpu_ms: None,
        })?;
        start_nanos = start_nanos.map(|nanos| nanos + entry.nanos);
    }
    journal.flush_if_due()
}

/// Opens the journal at `path` as the command line does: locked (and its
/// torn tail cut, when appending) before it is read for a resume.
fn open(path: &Path, append: bool, resume: bool, auto: bool) -> PyResult<(JournalWriter, Option<Resume>)> {
    let header = Header::new("procmap-python");
    let header = if auto { header.auto() } else { header };
    let locked = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::ResourceBusy {
            PyPoolError::new_err(format!(
                "journal {} is locked: another writer holds it (another run of a Pool, in this process or another, is writing it)",
                path.display()
            ))
        } else {
            PyPoolError::new_err(format!("cannot open journal {}: {e}", path.display()))
        }
    };
    let (journal, resume) = if resume {
        // Items whose latest record failed run again: only ok ones are done.
        let (journal, resume) = procmap_batch::resume::open(path, &header, true).map_err(|e| match e {
            OpenError::Write(e) => locked(e),
            OpenError::Read(e) => {
                PyPoolError::new_err(format!("cannot read journal {}: {}", path.display(), chain(&e)))
            }
        })?;
        (journal, Some(resume))
    } else {
        (Journal::file(path, append, &header).map_err(locked)?, None)
    };
    let writer = JournalWriter::start(journal).map_err(|e| PyPoolError::new_err(e.to_string()))?;
    Ok((writer, resume))
}

fn write_error(path: &Path, e: &std::io::Error) -> PyErr {
    PyPoolError::new_err(format!("cannot write journal {}: {e}", path.display()))
}

fn closed(path: &Path) -> PyErr {
    PyPoolError::new_err(format!("journal {} is closed", path.display()))
}
