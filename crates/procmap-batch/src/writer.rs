//! A [`Journal`] written on a thread of its own, for a caller whose own
//! thread has better things to do than encode records: the Python package's
//! thread also feeds the pool and hands Results to the user's loop.
//!
//! Batches of records go through a bounded channel; the writer flushes
//! whenever the channel runs empty, so a batch is in the kernel's hands
//! shortly after it is queued, and all of them once [`JournalWriter::finish`]
//! returns. The journal (and its lock) lives as long as the thread.

use crate::journal::Journal;
use procmap::JobRecord;
use std::io;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

/// A batch: each record with its occurrence (see [`Journal::write`]).
pub type Batch = Vec<(JobRecord, u32)>;

/// Work that writes records itself, on the writer's thread.
type Work = Box<dyn FnOnce(&mut Journal) -> io::Result<()> + Send>;

/// What the writer thread is given: records, or the work that writes them.
enum Message {
    Batch(Batch),
    With(Work),
}

/// Batches that may wait for the writer; beyond them, [`JournalWriter::write`]
/// waits rather than letting records pile up in memory.
const QUEUED_BATCHES: usize = 8;

pub struct JournalWriter {
    tx: Option<SyncSender<Message>>,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl JournalWriter {
    /// Starts the thread that writes `journal`.
    pub fn start(journal: Journal) -> io::Result<JournalWriter> {
        let (tx, rx) = sync_channel(QUEUED_BATCHES);
        let handle = std::thread::Builder::new().name("journal".into()).spawn(move || drain(journal, rx))?;
        Ok(JournalWriter { tx: Some(tx), handle: Some(handle) })
    }

    /// Queues a batch; returns the writer's error if it has stopped.
    pub fn write(&mut self, batch: Batch) -> io::Result<()> {
        self.send(Message::Batch(batch))
    }

    /// Queues work that writes records to the journal itself, on the
    /// writer's thread: for a caller whose records need assembling (the
    /// Python pool's come from its workers as text, and are written as
    /// [`crate::journal::Fields`] without becoming records) and whose own
    /// thread is the pool's bottleneck. An error it returns ends the writer,
    /// as a failed write does.
    pub fn write_with(
        &mut self,
        work: impl FnOnce(&mut Journal) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        self.send(Message::With(Box::new(work)))
    }

    fn send(&mut self, message: Message) -> io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(message).is_ok());
        if sent { Ok(()) } else { self.finish() }
    }

    /// Writes everything queued, flushes it and closes the journal (its
    /// lock is released). Later calls return `Ok`.
    pub fn finish(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }
}

impl Drop for JournalWriter {
    /// Closes the channel; the thread writes what is queued and ends on
    /// its own.
    fn drop(&mut self) {
        self.tx = None;
    }
}

fn drain(mut journal: Journal, rx: Receiver<Message>) -> io::Result<()> {
    loop {
        let message = match rx.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing more is coming for now: make what came durable.
                journal.flush()?;
                match rx.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                }
            }
        };
        match message {
            Message::Batch(batch) => {
                for (record, occurrence) in &batch {
                    journal.write(record, *occurrence)?;
                }
            }
            Message::With(work) => work(&mut journal)?,
        }
    }
    journal.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Header, Line, parse_line};

    #[test]
    fn every_batch_is_written_with_its_occurrences_and_the_lock_ends_with_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::file(&path, false, &Header::new("test")).unwrap();
        let mut writer = JournalWriter::start(journal).unwrap();
        let record = |line| JobRecord::rejected(line, "cube".into(), vec!["2".into()], "x".into());
        writer.write(vec![(record(1), 0), (record(2), 1)]).unwrap();
        writer.write_with(move |journal| journal.write(&record(3), 0)).unwrap();
        assert!(Journal::file(&path, true, &Header::new("test")).is_err(), "locked while writing");
        writer.finish().unwrap();
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| match parse_line(l.as_bytes()).unwrap() {
                Line::Record(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(records.len(), 3, "{text}");
        assert_eq!(records[1]["occurrence"], 1);
        assert!(records[0].get("occurrence").is_none());
        assert!(Journal::file(&path, true, &Header::new("test")).is_ok(), "unlocked once finished");
    }
}
