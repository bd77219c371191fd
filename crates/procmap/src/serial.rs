//! Serial mode: jobs run inline, one after another, on the thread that
//! reads the records. No worker, no thread: the baseline the other modes
//! are compared with.

use crate::exec;
use crate::feed::Feeder;
use crate::record::JobRecord;
use crate::stats::WorkerStats;
use crate::task::Registry;
use procmap_wire::RunContext;
use std::time::{Duration, Instant};

pub(crate) struct Serial {
    pub(crate) feeder: Feeder,
    pub(crate) registry: Registry,
    pub(crate) context: RunContext,
    pub(crate) chunksize: usize,
    pub(crate) stats: WorkerStats,
    pub(crate) started: Instant,
}

impl Serial {
    pub(crate) fn next_batch(&mut self) -> Option<Vec<JobRecord>> {
        let mut records = Vec::new();
        while records.is_empty() {
            let jobs = self.feeder.next_chunk(self.chunksize, true, &mut records);
            if jobs.is_empty() && self.feeder.is_exhausted() {
                break;
            }
            for job in jobs {
                let result = exec::run_job(&self.registry, &self.context, &job);
                self.stats.jobs += 1;
                self.stats.busy += Duration::from_nanos(result.nanos);
                self.stats.last_result = self.started.elapsed();
                records.push(JobRecord::finished(job, result, 1, 0));
            }
        }
        (!records.is_empty()).then_some(records)
    }
}
