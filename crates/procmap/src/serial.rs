//! Serial mode: jobs run inline, one after another, on the thread that
//! reads the records. No worker, no thread: the baseline the other modes
//! are compared with.

use crate::exec;
use crate::input::Chunker;
use crate::input::Feeder;
use crate::record::JobRecord;
use crate::stats::WorkerStats;
use crate::task::Registry;
use procmap_wire::RunContext;
use std::time::Instant;

pub(crate) struct Serial {
    pub(crate) feeder: Feeder,
    pub(crate) registry: Registry,
    pub(crate) context: RunContext,
    /// Sizes chunks as in the other modes; here a chunk is the records
    /// handed to the reader at once.
    pub(crate) chunker: Chunker,
    pub(crate) stats: WorkerStats,
    pub(crate) started: Instant,
    /// `started` on the monotonic clock: the origin of the records' `start`.
    pub(crate) origin: u64,
}

impl Serial {
    pub(crate) fn next_batch(&mut self) -> Option<Vec<JobRecord>> {
        let mut records = Vec::new();
        while records.is_empty() {
            let jobs = self.feeder.next_chunk(self.chunker.next_size(), true, &mut records).jobs;
            if jobs.is_empty() && self.feeder.is_exhausted() {
                break;
            }
            if !jobs.is_empty() {
                let count = jobs.len();
                let nanos = exec::run_chunk(
                    &self.registry,
                    &self.context,
                    self.origin,
                    jobs,
                    &mut self.stats,
                    &mut records,
                );
                self.chunker.observe(count, nanos);
                self.stats.last_result = self.started.elapsed();
            }
        }
        (!records.is_empty()).then_some(records)
    }
}
