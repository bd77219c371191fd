//! Finished results on their way to the supervisor: batched, because each
//! IPC message costs about 10 µs, and flushed at the end of every chunk or
//! when a result has waited longer than the flush interval.

use ipc_channel::ipc::IpcBytesSender;
use procmap_wire::{self as wire, FromWorker, JobResult};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Output bytes after which a batch of results is sent without waiting.
const BATCH_BYTES: usize = 1 << 20;

/// Finished results waiting to be sent, shared by the job loop and the
/// flusher thread. The sender lives inside the lock so that batches never
/// interleave.
pub(super) struct Outbox {
    state: Mutex<OutboxState>,
    wake: Condvar,
    interval: Duration,
}

struct OutboxState {
    tx: IpcBytesSender,
    unsent: Vec<JobResult>,
    /// Bytes of task output in `unsent`.
    unsent_bytes: usize,
    chunks_done: Vec<u64>,
    oldest: Option<Instant>,
    closed: bool,
    /// The supervisor stopped reading: stop working.
    broken: bool,
}

impl Outbox {
    pub(super) fn new(tx: IpcBytesSender, interval: Duration) -> Self {
        Self {
            state: Mutex::new(OutboxState {
                tx,
                unsent: Vec::new(),
                unsent_bytes: 0,
                chunks_done: Vec::new(),
                oldest: None,
                closed: false,
                broken: false,
            }),
            wake: Condvar::new(),
            interval,
        }
    }

    pub(super) fn push(&self, result: JobResult) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.unsent.is_empty() {
            state.oldest = Some(Instant::now());
        }
        if let wire::Outcome::Ok(bytes) | wire::Outcome::Bytes(bytes) = &result.outcome {
            state.unsent_bytes += bytes.len();
        }
        state.unsent.push(result);
        // Big outputs go out at once: a batch must stay far below the
        // largest message the supervisor decodes.
        if state.unsent_bytes >= BATCH_BYTES {
            Self::send_unsent(&mut state);
        }
    }

    /// Marks `chunk` done without sending yet, unless the batch is already
    /// big or old.
    pub(super) fn defer_chunk(&self, chunk: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.chunks_done.push(chunk);
        let old = state.oldest.is_some_and(|t| t.elapsed() >= self.interval);
        if old || state.unsent.len() >= 1024 {
            Self::send_unsent(&mut state);
        }
    }

    /// Sends everything unsent, with `chunk` marked done.
    pub(super) fn finish_chunk(&self, chunk: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.chunks_done.push(chunk);
        Self::send_unsent(&mut state);
    }

    /// Tells the supervisor that job `id` starts now, after sending the
    /// results before it, so that it knows exactly which jobs finished.
    pub(super) fn announce(&self, id: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Self::send_unsent(&mut state);
        Self::send_locked(&mut state, &FromWorker::Started { id });
    }

    pub(super) fn is_broken(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).broken
    }

    pub(super) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.closed = true;
        self.wake.notify_one();
    }

    fn send_unsent(state: &mut OutboxState) {
        if state.unsent.is_empty() && state.chunks_done.is_empty() {
            return;
        }
        let results = std::mem::take(&mut state.unsent);
        let chunks_done = std::mem::take(&mut state.chunks_done);
        state.oldest = None;
        state.unsent_bytes = 0;
        Self::send_locked(state, &FromWorker::Results { results, chunks_done });
    }

    fn send_locked(state: &mut OutboxState, msg: &FromWorker) {
        if state.broken {
            return;
        }
        let sent = wire::encode(msg).map_err(std::io::Error::other).and_then(|bytes| state.tx.send(&bytes));
        if sent.is_err() {
            state.broken = true;
        }
    }

    /// Sends results that have waited longer than the interval, until
    /// closed. It polls rather than being woken per result: a wake-up per
    /// chunk cost more than the whole job loop on small jobs.
    pub(super) fn flush_loop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if state.closed {
                return;
            }
            if state.oldest.is_some_and(|t| t.elapsed() >= self.interval) {
                Self::send_unsent(&mut state);
            }
            state = self.wake.wait_timeout(state, self.interval / 2).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}
