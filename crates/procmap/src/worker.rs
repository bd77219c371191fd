//! The worker runtime: what a `supervisor-worker` binary runs.
//!
//! [`serve`] connects to the supervisor, answers its hello with the
//! registry's task list, then runs chunks until told to stop or until the
//! supervisor disappears. Results are sent back in batches, because each IPC
//! message costs about 10 µs; a batch goes out at the end of every chunk and,
//! from a flusher thread, whenever a finished result has waited longer than
//! the flush interval, so a slow job's neighbours are reported promptly and a
//! crash loses as little as possible.

use crate::channel::Bootstrap;
use crate::exec;
use crate::task::Registry;
use ipc_channel::ipc::{self, IpcBytesSender, IpcSender};
use procmap_wire::{self as wire, FromWorker, JobResult, PROTOCOL_VERSION, ToWorker, WorkerHello};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Why a worker could not serve.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{} is not set: this program is started by `supervisor`, not by hand", wire::SERVER_ENV)]
    NotSupervised,
    #[error("cannot connect to the supervisor")]
    Connect(#[source] std::io::Error),
    #[error("lost the connection to the supervisor during the handshake")]
    Handshake(#[source] std::io::Error),
    #[error(
        "supervisor speaks protocol {theirs}, this worker speaks {PROTOCOL_VERSION}: rebuild both from one checkout"
    )]
    ProtocolMismatch { theirs: u32 },
    #[error("unexpected message from the supervisor: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Wire(#[from] wire::WireError),
}

/// Runs the worker side of the protocol with the tasks in `registry`. Returns
/// when the supervisor says to shut down or goes away.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     let registry = procmap::Registry::new(); // register your tasks here
///     procmap::worker::main(registry)
/// }
/// ```
pub fn serve(registry: Registry) -> Result<(), WorkerError> {
    exec::install_panic_hook();
    let name = std::env::var(wire::SERVER_ENV).map_err(|_| WorkerError::NotSupervised)?;
    let bootstrap_tx: IpcSender<Bootstrap> = IpcSender::connect(name).map_err(WorkerError::Connect)?;
    let (to_worker, rx) = ipc::bytes_channel().map_err(WorkerError::Connect)?;
    let (tx, from_worker) = ipc::bytes_channel().map_err(WorkerError::Connect)?;
    bootstrap_tx
        .send(Bootstrap { to_worker, from_worker })
        .map_err(|e| WorkerError::Handshake(std::io::Error::other(e.to_string())))?;
    drop(bootstrap_tx);

    let hello = match recv(&rx)? {
        Some(ToWorker::Hello(hello)) => hello,
        Some(other) => return Err(WorkerError::Unexpected(format!("{other:?}"))),
        None => return Ok(()),
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(WorkerError::ProtocolMismatch { theirs: hello.protocol });
    }
    let reply = FromWorker::Hello(WorkerHello {
        protocol: PROTOCOL_VERSION,
        pid: std::process::id(),
        tasks: registry.infos(),
    });
    tx.send(&wire::encode(&reply)?).map_err(WorkerError::Handshake)?;

    let outbox = Arc::new(Outbox::new(tx, Duration::from_micros(hello.flush_interval_us.max(100))));
    let flusher = {
        let outbox = Arc::clone(&outbox);
        std::thread::Builder::new().name("flusher".into()).spawn(move || outbox.flush_loop())
    };
    let flusher = flusher.map_err(WorkerError::Connect)?;

    let result = run_chunks(&registry, &hello, &rx, &outbox);
    outbox.close();
    let _ = flusher.join();
    result
}

/// [`serve`] for a binary's `main`: reports an error on stderr and turns it
/// into an exit code.
pub fn main(registry: Registry) -> ExitCode {
    match serve(registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("supervisor-worker: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(wire::EXIT_WORKER_ERROR)
        }
    }
}

fn recv(rx: &ipc::IpcBytesReceiver) -> Result<Option<ToWorker>, WorkerError> {
    match rx.recv() {
        Ok(bytes) => Ok(Some(wire::decode(&bytes)?)),
        // The supervisor is gone (or closed our channel to stop us): there
        // is nobody to report to, so stop quietly.
        Err(_) => Ok(None),
    }
}

fn run_chunks(
    registry: &Registry,
    hello: &wire::Hello,
    rx: &ipc::IpcBytesReceiver,
    outbox: &Arc<Outbox>,
) -> Result<(), WorkerError> {
    if hello.threads > 1 {
        return run_chunks_threaded(registry, hello, rx, outbox);
    }
    let mut waiting = None;
    loop {
        let msg = match waiting.take() {
            Some(msg) => Some(msg),
            None => recv(rx)?,
        };
        match msg {
            Some(ToWorker::Chunk { chunk, jobs }) => {
                for job in &jobs {
                    if hello.report_starts {
                        outbox.announce(job.id);
                    }
                    outbox.push(exec::run_job(registry, &hello.context, job));
                }
                // A small chunk with the next one already queued: keep its
                // results for the next batch (see COALESCE_BELOW).
                if jobs.len() < wire::COALESCE_BELOW
                    && !hello.report_starts
                    && let Ok(bytes) = rx.try_recv()
                {
                    outbox.defer_chunk(chunk);
                    waiting = Some(wire::decode(&bytes)?);
                } else {
                    outbox.finish_chunk(chunk);
                }
                if outbox.is_broken() {
                    return Ok(());
                }
            }
            Some(ToWorker::Shutdown) | None => return Ok(()),
            Some(ToWorker::Hello(_)) => return Err(WorkerError::Unexpected("a second hello".into())),
        }
    }
}

/// Hybrid mode: `threads` runners take jobs from a shared queue, so jobs of
/// one chunk run at once and finish out of order. The queue is short, so a
/// crash strands few jobs that had not started.
fn run_chunks_threaded(
    registry: &Registry,
    hello: &wire::Hello,
    rx: &ipc::IpcBytesReceiver,
    outbox: &Arc<Outbox>,
) -> Result<(), WorkerError> {
    let threads = hello.threads as usize;
    let (job_tx, job_rx) = crossbeam_channel::bounded::<(u64, Arc<ChunkCount>, wire::Job)>(threads);
    let mut runners = Vec::with_capacity(threads);
    for i in 0..threads {
        let (job_rx, outbox, registry) = (job_rx.clone(), Arc::clone(outbox), registry.clone());
        let (context, report_starts) = (hello.context.clone(), hello.report_starts);
        let runner = std::thread::Builder::new().name(format!("runner-{i}")).spawn(move || {
            for (chunk, count, job) in job_rx {
                if report_starts {
                    outbox.announce(job.id);
                }
                outbox.push(exec::run_job(&registry, &context, &job));
                if count.left.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
                    outbox.finish_chunk(chunk);
                }
            }
        });
        runners.push(runner.map_err(WorkerError::Connect)?);
    }
    let result = loop {
        match recv(rx) {
            Ok(Some(ToWorker::Chunk { chunk, jobs })) => {
                let count = Arc::new(ChunkCount { left: std::sync::atomic::AtomicUsize::new(jobs.len()) });
                if jobs.is_empty() {
                    outbox.finish_chunk(chunk);
                }
                for job in jobs {
                    if job_tx.send((chunk, Arc::clone(&count), job)).is_err() {
                        break;
                    }
                }
                if outbox.is_broken() {
                    break Ok(());
                }
            }
            Ok(Some(ToWorker::Shutdown) | None) => break Ok(()),
            Ok(Some(ToWorker::Hello(_))) => break Err(WorkerError::Unexpected("a second hello".into())),
            Err(e) => break Err(e),
        }
    };
    drop(job_tx);
    for runner in runners {
        let _ = runner.join();
    }
    result
}

/// Jobs of one chunk not finished yet, shared by the runner threads.
struct ChunkCount {
    left: std::sync::atomic::AtomicUsize,
}

/// Output bytes after which a batch of results is sent without waiting.
const BATCH_BYTES: usize = 1 << 20;

/// Finished results waiting to be sent, shared by the job loop and the
/// flusher thread. The sender lives inside the lock so that batches never
/// interleave.
struct Outbox {
    state: Mutex<OutboxState>,
    wake: Condvar,
    interval: Duration,
}

struct OutboxState {
    tx: IpcBytesSender,
    pending: Vec<JobResult>,
    /// Bytes of task output in `pending`.
    pending_bytes: usize,
    chunks_done: Vec<u64>,
    oldest: Option<Instant>,
    closed: bool,
    /// The supervisor stopped reading: stop working.
    broken: bool,
}

impl Outbox {
    fn new(tx: IpcBytesSender, interval: Duration) -> Self {
        Self {
            state: Mutex::new(OutboxState {
                tx,
                pending: Vec::new(),
                pending_bytes: 0,
                chunks_done: Vec::new(),
                oldest: None,
                closed: false,
                broken: false,
            }),
            wake: Condvar::new(),
            interval,
        }
    }

    fn push(&self, result: JobResult) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.pending.is_empty() {
            state.oldest = Some(Instant::now());
        }
        if let wire::Outcome::Ok(bytes) = &result.outcome {
            state.pending_bytes += bytes.len();
        }
        state.pending.push(result);
        // Big outputs go out at once: a batch must stay far below the
        // largest message the supervisor decodes.
        if state.pending_bytes >= BATCH_BYTES {
            Self::send_pending(&mut state);
        }
    }

    /// Marks `chunk` done without sending yet, unless the batch is already
    /// big or old.
    fn defer_chunk(&self, chunk: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.chunks_done.push(chunk);
        let old = state.oldest.is_some_and(|t| t.elapsed() >= self.interval);
        if old || state.pending.len() >= 1024 {
            Self::send_pending(&mut state);
        }
    }

    /// Sends everything pending, with `chunk` marked done.
    fn finish_chunk(&self, chunk: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.chunks_done.push(chunk);
        Self::send_pending(&mut state);
    }

    /// Tells the supervisor that job `id` starts now, after sending the
    /// results before it, so that it knows exactly which jobs finished.
    fn announce(&self, id: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Self::send_pending(&mut state);
        Self::send_locked(&mut state, &FromWorker::Started { id });
    }

    fn is_broken(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).broken
    }

    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.closed = true;
        self.wake.notify_one();
    }

    fn send_pending(state: &mut OutboxState) {
        if state.pending.is_empty() && state.chunks_done.is_empty() {
            return;
        }
        let results = std::mem::take(&mut state.pending);
        let chunks_done = std::mem::take(&mut state.chunks_done);
        state.oldest = None;
        state.pending_bytes = 0;
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
    fn flush_loop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if state.closed {
                return;
            }
            if state.oldest.is_some_and(|t| t.elapsed() >= self.interval) {
                Self::send_pending(&mut state);
            }
            state = self.wake.wait_timeout(state, self.interval / 2).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}
