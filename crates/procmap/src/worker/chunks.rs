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
        return run_chunks_threaded(registry, hello, rx, outbox);
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
