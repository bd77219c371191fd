//! The worker's job loops: one thread running each chunk's jobs in order,
//! or (hybrid mode) runner threads sharing a short queue of jobs.

use super::link::{WorkerError, recv};
use super::outbox::Outbox;
use crate::exec;
use crate::task::Registry;
use ipc_channel::ipc;
use procmap_wire::{self as wire, ToWorker};
use std::sync::Arc;

pub(super) fn run_chunks(
    registry: &Registry,
    hello: &wire::Hello,
    rx: &ipc::IpcBytesReceiver,
    outbox: &Arc<Outbox>,
    marker: Option<&crate::marker::Marker>,
    capture: Option<&super::capture::Capture>,
) -> Result<(), WorkerError> {
    if hello.threads > 1 {
        return run_chunks_threaded(registry, hello, rx, outbox, hello.threads as usize);
    }
    let capture = super::capture::ForJobs::new(capture, registry);
    let mut waiting = None;
    loop {
        let msg = match waiting.take() {
            Some(msg) => Some(msg),
            None => recv(rx)?,
        };
        match msg {
            Some(ToWorker::Chunk { chunk, jobs }) => {
                for job in &jobs {
                    // Before anything else about the job: a death from now
                    // on is its own (see crate::marker).
                    if let Some(marker) = marker {
                        marker.set(job.id);
                    }
                    if hello.report_starts {
                        outbox.announce(job.id);
                    }
                    let run = || exec::run_job(registry, &hello.context, job);
                    outbox.push(match &capture {
                        Some(capture) => capture.run(registry, job, run),
                        None => run(),
                    });
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
            // From one thread to several, for good: the marker stops here,
            // and the supervisor stopped trusting it when it sent this.
            Some(ToWorker::Threads(n)) if n > 1 => {
                return run_chunks_threaded(registry, hello, rx, outbox, n as usize);
            }
            Some(ToWorker::Threads(_)) => {}
            Some(ToWorker::Shutdown) | None => return Ok(()),
            Some(ToWorker::Hello(_)) => return Err(WorkerError::Unexpected("a second hello".into())),
        }
    }
}

/// Hybrid mode: runners take jobs from a shared queue, so jobs of one
/// chunk run at once and finish out of order. The queue is short, so a
/// crash strands few jobs that had not started. `--mode auto` changes the
/// number of runners during the run ([`ToWorker::Threads`]); none of them
/// marks the job it runs (one marker cannot say which of several runs).
fn run_chunks_threaded(
    registry: &Registry,
    hello: &wire::Hello,
    rx: &ipc::IpcBytesReceiver,
    outbox: &Arc<Outbox>,
    threads: usize,
) -> Result<(), WorkerError> {
    let mut runners = Runners::new(registry, hello, outbox, threads);
    runners.resize(threads)?;
    let result = loop {
        match recv(rx) {
            Ok(Some(ToWorker::Chunk { chunk, jobs })) => {
                let count = Arc::new(ChunkCount { left: std::sync::atomic::AtomicUsize::new(jobs.len()) });
                if jobs.is_empty() {
                    outbox.finish_chunk(chunk);
                }
                for job in jobs {
                    if runners.tx.send(Work::Job(chunk, Arc::clone(&count), job)).is_err() {
                        break;
                    }
                }
                if outbox.is_broken() {
                    break Ok(());
                }
            }
            Ok(Some(ToWorker::Threads(n))) => runners.resize(n.max(1) as usize)?,
            Ok(Some(ToWorker::Shutdown) | None) => break Ok(()),
            Ok(Some(ToWorker::Hello(_))) => break Err(WorkerError::Unexpected("a second hello".into())),
            Err(e) => break Err(e),
        }
    };
    runners.join();
    result
}

/// What a runner takes from the queue.
enum Work {
    Job(u64, Arc<ChunkCount>, wire::Job),
    /// One runner fewer: the one that takes this ends.
    Quit,
}

/// The runner threads of a hybrid worker and their queue.
struct Runners {
    tx: crossbeam_channel::Sender<Work>,
    rx: crossbeam_channel::Receiver<Work>,
    handles: Vec<std::thread::JoinHandle<()>>,
    /// Runners not told to quit.
    live: usize,
    registry: Registry,
    context: wire::RunContext,
    report_starts: bool,
    outbox: Arc<Outbox>,
}

impl Runners {
    fn new(registry: &Registry, hello: &wire::Hello, outbox: &Arc<Outbox>, threads: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<Work>(threads.max(1));
        Runners {
            tx,
            rx,
            handles: Vec::with_capacity(threads),
            live: 0,
            registry: registry.clone(),
            context: hello.context.clone(),
            report_starts: hello.report_starts,
            outbox: Arc::clone(outbox),
        }
    }

    /// Starts or ends runners until `threads` are left. An ending runner
    /// first finishes the job it runs, and the jobs queued before its
    /// notice: nothing sent is dropped.
    fn resize(&mut self, threads: usize) -> Result<(), WorkerError> {
        while self.live < threads {
            let (rx, outbox, registry) = (self.rx.clone(), Arc::clone(&self.outbox), self.registry.clone());
            let (context, report_starts) = (self.context.clone(), self.report_starts);
            let runner =
                std::thread::Builder::new().name(format!("runner-{}", self.handles.len())).spawn(move || {
                    for work in rx {
                        let Work::Job(chunk, count, job) = work else { return };
                        if report_starts {
                            outbox.announce(job.id);
                        }
                        outbox.push(exec::run_job(&registry, &context, &job));
                        if count.left.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
                            outbox.finish_chunk(chunk);
                        }
                    }
                });
            self.handles.push(runner.map_err(WorkerError::Connect)?);
            self.live += 1;
        }
        while self.live > threads {
            if self.tx.send(Work::Quit).is_err() {
                break;
            }
            self.live -= 1;
        }
        Ok(())
    }

    /// Lets every runner finish what is queued, and waits for them.
    fn join(self) {
        drop(self.tx);
        for runner in self.handles {
            let _ = runner.join();
        }
    }
}

/// Jobs of one chunk not finished yet, shared by the runner threads.
struct ChunkCount {
    left: std::sync::atomic::AtomicUsize,
}
