//! Flow control: which batch goes to which worker, and when a worker is
//! full (docs/architecture.md, "Flow control").

use super::*;
use state::{Limits, Room};

/// Serializes the jobs of tracked entries as a sequence of [`Job`]s.
pub(super) struct TrackedJobs<'a>(&'a [Tracked]);

impl Serialize for TrackedJobs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|p| &p.job))
    }
}

impl Dispatcher {
    /// Sends batches to every ready worker that has room, one batch per
    /// worker per pass, so that workers fill evenly: filled one after the
    /// other, the first could take a deep queue of jobs whose time was
    /// estimated from faster ones before it, and the rest none.
    pub(super) fn dispatch(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        let limits = Limits {
            threads: self.cfg.threads,
            chunk_bytes: CHUNK_BYTES,
            max_jobs: self.cfg.max_tasks_per_child,
        };
        loop {
            let mut sent = false;
            for slot in 0..self.slots.len() {
                sent |= self.offer(slot, &limits);
            }
            if !sent {
                return;
            }
        }
    }

    /// Sends `slot`'s worker one batch if it has room and there is one;
    /// says whether it did.
    fn offer(&mut self, slot: usize, limits: &Limits) -> bool {
        loop {
            let Some(worker) = self.slots[slot].as_ref() else { return false };
            // Each worker's own count: in an auto run, a worker that has not
            // had its hello yet may still run the count before a change.
            let limits = Limits { threads: worker.threads, ..*limits };
            let (idle, quota) = match worker.state.room(&limits, |jobs| self.chunker.queued_work(jobs)) {
                Room::None => return false,
                Room::Retire => {
                    self.retire(slot);
                    return false;
                }
                Room::Chunk { idle, quota } => (idle, quota),
            };
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
                return false;
            };
            self.send_batch(slot, batch);
            return true;
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
        let cut = self.feeder.next_chunk(size, worker_idle, &mut self.out_buf);
        if cut.is_empty() {
            return None;
        }
        self.chunks.record(cut.len());
        let batch = Batch::fresh(cut);
        if batch.needs_idle() && !worker_idle {
            // One job too big to queue behind others: it waits for an idle
            // worker, which reads it at once, so its send cannot block.
            self.retry.push_front(batch);
            return None;
        }
        Some(batch)
    }

    pub(super) fn send_batch(&mut self, slot: usize, batch: Batch) {
        self.next_chunk_id += 1;
        let id = self.next_chunk_id;
        let worker = self.slots[slot].as_mut().expect("dispatch only to live workers");
        let _span = tracing::debug_span!("chunk", id, jobs = batch.jobs.len(), pid = worker.pid).entered();
        let msg = ToWorkerRef::Chunk { chunk: id, jobs: TrackedJobs(&batch.jobs) };
        let bytes = wire::encode(&msg).expect("jobs always encode");
        let mut jobs = batch.jobs;
        let now = Instant::now();
        for job in &mut jobs {
            job.sent = Some(now);
        }
        worker.state.sent(id, batch.solo, jobs, bytes.len());
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
            worker.state.retire();
            worker.tx = None;
        }
    }
}
