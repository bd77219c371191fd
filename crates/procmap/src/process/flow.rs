//! Flow control: which batch goes to which worker, and when a worker is
//! full (docs/architecture.md, "Flow control").

use super::*;

/// Chunks in flight per worker: at least this many, so that a worker always
/// has its next chunk queued when it finishes one ...
pub(super) const DEPTH: usize = 2;

/// ... and more while their jobs add up to fewer than this, so that tiny
/// chunks do not leave a worker waiting on round trips. Still small enough
/// that queued messages never fill the socket buffer (about 278 small ones).
pub(super) const DEPTH_JOBS: usize = 32;

/// ... provided those jobs are known to take less than this in all: slow
/// jobs queued deep on the first worker to start would starve the others.
pub(super) const DEPTH_WORK: Duration = Duration::from_millis(2);

/// A batch of jobs waiting to be sent.
pub(super) struct Batch {
    jobs: Vec<Pending>,
    /// A suspect rerun alone: its worker gets nothing else meanwhile, so a
    /// second crash blames only this job.
    solo: bool,
    /// The jobs' size, as counted against [`CHUNK_BYTES`].
    bytes: usize,
}

impl Batch {
    pub(super) fn new(jobs: Vec<Pending>, solo: bool) -> Self {
        let bytes = jobs.iter().map(|p| job_bytes(&p.job)).sum();
        Batch { jobs, solo, bytes }
    }

    /// Whether only an idle worker may take it: a suspect, or more bytes
    /// than may be queued behind another chunk.
    pub(super) fn needs_idle(&self) -> bool {
        self.solo || self.bytes > CHUNK_BYTES
    }
}

/// Marks chunks that carry one suspect being rerun alone.
pub(super) const SOLO_BIT: u64 = 1 << 63;

/// Serializes the jobs of pending entries as a sequence of [`Job`]s.
pub(super) struct PendingJobs<'a>(&'a [Pending]);

impl Serialize for PendingJobs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|p| &p.job))
    }
}

impl Dispatcher {
    /// Sends batches to every ready worker that has room.
    pub(super) fn dispatch(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        for slot in 0..self.slots.len() {
            while let Some(worker) = self.slots[slot].as_ref() {
                let queued: usize = worker.inflight.iter().map(|c| c.jobs.len()).sum();
                let short_jobs = self.chunker.queued_work(queued).is_some_and(|w| w < DEPTH_WORK);
                // A worker with T threads needs T chunks to run T jobs at
                // once (with chunksize 1), and one more queued.
                let depth = DEPTH.max(self.cfg.threads + 1);
                let full = (worker.inflight.len() >= depth
                    && !(short_jobs && queued < DEPTH_JOBS && worker.inflight.len() < DEPTH_JOBS))
                    || worker.inflight_bytes >= CHUNK_BYTES;
                if worker.phase != Phase::Ready || worker.kill.is_some() || full {
                    break;
                }
                if worker.inflight.iter().any(|c| c.seq & SOLO_BIT != 0) {
                    break;
                }
                let quota = self.cfg.max_tasks_per_child.map(|n| n.saturating_sub(worker.assigned));
                if quota == Some(0) {
                    if worker.inflight.is_empty() {
                        self.retire(slot);
                    }
                    break;
                }
                let idle = worker.inflight.is_empty();
                let Some(batch) = self.next_batch(idle, quota) else {
                    // A long run of invalid lines yields no job but many
                    // records: pass them on and keep reading.
                    if !self.out_buf.is_empty()
                        && !self.out_closed
                        && !self.feeder.is_exhausted()
                        && self.retry.is_empty()
                    {
                        self.flush_out();
                        continue;
                    }
                    break;
                };
                self.send_batch(slot, batch);
            }
        }
    }

    pub(super) fn next_batch(&mut self, worker_idle: bool, quota: Option<u64>) -> Option<Batch> {
        // Reruns go first. A suspect waits for an idle worker, and while one
        // waits no worker takes fresh input, so that some worker drains.
        if let Some(pos) = self.retry.iter().position(|b| !b.needs_idle() || worker_idle) {
            return self.retry.remove(pos);
        }
        if !self.retry.is_empty() {
            return None;
        }
        let size = self.chunker.next_size();
        let size = quota.map_or(size, |q| size.min(q as usize));
        let jobs = self.feeder.next_chunk(size, worker_idle, &mut self.out_buf);
        if jobs.is_empty() {
            return None;
        }
        self.chunks.record(jobs.len());
        let jobs = jobs.into_iter().map(|job| Pending { job, attempts: 0, crashes: 0 }).collect();
        let batch = Batch::new(jobs, false);
        if batch.needs_idle() && !worker_idle {
            // One job too big to queue behind others: it waits for an idle
            // worker, which reads it at once, so its send cannot block.
            self.retry.push_front(batch);
            return None;
        }
        Some(batch)
    }

    pub(super) fn send_batch(&mut self, slot: usize, mut batch: Batch) {
        self.next_seq += 1;
        let seq = if batch.solo { self.next_seq | SOLO_BIT } else { self.next_seq };
        for p in &mut batch.jobs {
            p.attempts += 1;
        }
        let worker = self.slots[slot].as_mut().expect("dispatch only to live workers");
        let _span =
            tracing::debug_span!("chunk", id = seq & !SOLO_BIT, jobs = batch.jobs.len(), pid = worker.pid)
                .entered();
        let msg = ToWorkerRef::Chunk { chunk: seq, jobs: PendingJobs(&batch.jobs) };
        let bytes = wire::encode(&msg).expect("jobs always encode");
        worker.assigned += batch.jobs.len() as u64;
        worker.inflight_bytes += bytes.len();
        worker.inflight.push_back(InFlight::new(seq, batch.jobs, bytes.len()));
        let sent = worker.tx.as_ref().map(|tx| tx.send(&bytes));
        if let Some(Err(e)) = sent {
            // The worker is gone (broken pipe or reset); its channel's close
            // event follows and requeues the chunk.
            tracing::debug!(pid = worker.pid, error = %e, "send failed");
        }
    }

    pub(super) fn retire(&mut self, slot: usize) {
        if let Some(worker) = self.slots[slot].as_mut() {
            // Closing our sender makes the worker finish and exit 0.
            worker.phase = Phase::Retiring;
            worker.tx = None;
        }
    }
}
