//! The journal of a Python run: the engine's records as JSON Lines, and the
//! keys of the items a resumed run may skip.

use procmap::{JobRecord, Status};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why a journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error("cannot open journal {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write journal {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read journal {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    dirty: bool,
}

impl Journal {
    /// Opens `path` for appending, or truncates it first unless `append`.
    pub(crate) fn open(path: &Path, append: bool) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|source| JournalError::Open { path: path.to_owned(), source })?;
        Ok(Journal { path: path.to_owned(), out: BufWriter::with_capacity(1 << 16, file), dirty: false })
    }

    pub(crate) fn write(&mut self, record: &JobRecord) -> Result<(), JournalError> {
        let written = serde_json::to_writer(&mut self.out, record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        self.dirty = true;
        written.map_err(|source| JournalError::Write { path: self.path.clone(), source })
    }

    /// Hands buffered records to the kernel, so that they survive the
    /// death of this process (not of the machine: no fsync per batch).
    pub(crate) fn flush(&mut self) -> Result<(), JournalError> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        self.out.flush().map_err(|source| JournalError::Write { path: self.path.clone(), source })
    }
}

/// An item's identity for resuming: its line (index + 1), the function's
/// name, and its pickled bytes (as the base64 text the job carries).
pub(crate) fn item_key(line: u64, task: &str, payload: &str) -> u64 {
    // Fixed keys: both sides of the comparison are hashed by this process,
    // so the key need not be stable across Rust releases, only within one.
    let mut hasher = std::hash::DefaultHasher::new();
    (line, task, payload).hash(&mut hasher);
    hasher.finish()
}

/// The keys of the items of `task` that have an ok record in `path`. A
/// missing journal has none; a torn last line (the process died mid-write)
/// is skipped.
pub(crate) fn done_keys(path: &Path, task: &str) -> Result<HashSet<u64>, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(source) => return Err(JournalError::Read { path: path.to_owned(), source }),
    };
    let mut done = HashSet::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|source| JournalError::Read { path: path.to_owned(), source })?;
        let Ok(record) = serde_json::from_str::<JobRecord>(&line) else { continue };
        if record.status == Status::Ok
            && record.task == task
            && let [payload] = &record.args[..]
        {
            done.insert(item_key(record.line, task, payload));
        }
    }
    Ok(done)
}

/// Writes batches of records on a thread of its own, so that encoding them
/// as JSON does not slow the Python thread that also feeds the pool. A
/// batch is in the kernel's hands shortly after Python receives its
/// Results, and all of them once [`JournalThread::finish`] returns.
pub(crate) struct JournalThread {
    tx: Option<crossbeam_channel::Sender<Vec<JobRecord>>>,
    handle: Option<std::thread::JoinHandle<Result<(), JournalError>>>,
}

impl JournalThread {
    pub(crate) fn start(mut journal: Journal) -> std::io::Result<Self> {
        // A few batches of slack; beyond that the poller waits (without the
        // GIL) rather than letting records pile up in memory.
        let (tx, rx) = crossbeam_channel::bounded::<Vec<JobRecord>>(8);
        let handle = std::thread::Builder::new().name("journal".into()).spawn(move || {
            for batch in &rx {
                for record in &batch {
                    journal.write(record)?;
                }
                if rx.is_empty() {
                    journal.flush()?;
                }
            }
            journal.flush()
        })?;
        Ok(JournalThread { tx: Some(tx), handle: Some(handle) })
    }

    /// Queues a batch; returns the writer's error if it has stopped.
    pub(crate) fn write(&mut self, records: Vec<JobRecord>) -> Result<(), JournalError> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(records).is_ok());
        if sent { Ok(()) } else { self.finish() }
    }

    /// Writes everything queued and flushes it.
    pub(crate) fn finish(&mut self) -> Result<(), JournalError> {
        self.tx = None;
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }
}
