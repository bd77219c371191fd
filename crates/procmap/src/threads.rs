//! Thread mode: the same jobs on threads of this process.
//!
//! A feeding thread owns the input and hands chunks to `procs` runner
//! threads through a bounded channel; the runners send records straight to
//! the run. A panic is caught per job as in a worker process, but nothing
//! can isolate a segfault or an abort: it ends the whole process.

use crate::config::Config;
use crate::error::PoolError;
use crate::exec;
use crate::input::Chunker;
use crate::input::Feeder;
use crate::record::JobRecord;
use crate::stats::{ChunkStats, Stats, WorkerStats};
use crate::task::Registry;
use crossbeam_channel::Sender;
use procmap_wire::Job;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

pub(crate) fn start(
    cfg: &Config,
    registry: Registry,
    mut feeder: Feeder,
    out: Sender<Vec<JobRecord>>,
    stop: Arc<AtomicU8>,
) -> std::io::Result<JoinHandle<Result<Stats, PoolError>>> {
    let started = Instant::now();
    let origin = crate::unix::monotonic_nanos();
    let (chunks_tx, chunks_rx) = crossbeam_channel::bounded::<Vec<Job>>(cfg.procs * 2);
    let mut runners = Vec::with_capacity(cfg.procs);
    let timing = Arc::new(Timing::default());
    for index in 1..=cfg.procs {
        let (registry, context) = (registry.clone(), cfg.context.clone());
        let (chunks, out, stop) = (chunks_rx.clone(), out.clone(), Arc::clone(&stop));
        let timing = Arc::clone(&timing);
        let runner = std::thread::Builder::new().name(format!("runner-{index}")).spawn(move || {
            let mut stats = WorkerStats { id: index as u32, ..WorkerStats::default() };
            while let Ok(jobs) = chunks.recv() {
                if stop.load(Ordering::SeqCst) > 0 {
                    break;
                }
                let mut records = Vec::with_capacity(jobs.len());
                let nanos = exec::run_chunk(&registry, &context, origin, jobs, &mut stats, &mut records);
                timing.nanos.fetch_add(nanos, Ordering::Relaxed);
                timing.jobs.fetch_add(records.len() as u64, Ordering::Relaxed);
                stats.last_result = started.elapsed();
                if out.send(records).is_err() {
                    break;
                }
            }
            stats
        })?;
        runners.push(runner);
    }
    let mut chunker = Chunker::new(cfg.chunking, 1);
    std::thread::Builder::new().name("feeder".into()).spawn(move || {
        let mut rejected = Vec::new();
        let mut chunks = ChunkStats::default();
        let mut seen = (0, 0);
        while stop.load(Ordering::SeqCst) == 0 {
            let now = (timing.jobs.load(Ordering::Relaxed), timing.nanos.load(Ordering::Relaxed));
            chunker.observe((now.0 - seen.0) as usize, now.1 - seen.1);
            seen = now;
            let jobs = feeder.next_chunk(chunker.next_size(), true, &mut rejected).jobs;
            if !rejected.is_empty() && out.send(std::mem::take(&mut rejected)).is_err() {
                break;
            }
            if jobs.is_empty() {
                if feeder.is_exhausted() {
                    break;
                }
                continue;
            }
            chunks.record(jobs.len());
            if chunks_tx.send(jobs).is_err() {
                break;
            }
        }
        drop(chunks_tx);
        let mut workers: Vec<WorkerStats> = runners.into_iter().filter_map(|r| r.join().ok()).collect();
        workers.retain(|w| w.jobs > 0);
        Ok(Stats { workers, spawned: 0, wall: started.elapsed(), chunks, startup: None, auto: Vec::new() })
    })
}

/// Job times measured by the runners, read by the feeder to size chunks.
#[derive(Default)]
struct Timing {
    jobs: AtomicU64,
    nanos: AtomicU64,
}
