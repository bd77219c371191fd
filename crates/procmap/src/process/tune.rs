//! `--mode auto` on the dispatcher: closing each window, asking the
//! controller (`crate::auto`, through `window.rs`) and telling every worker
//! its new thread count.
//!
//! Crash isolation holds whatever the count: jobs run in worker processes.
//! A worker that has been told to run more than one thread is judged as a
//! hybrid worker from the moment the message is sent (its marker is no
//! longer read, and any job it holds may have started), since it may
//! already have switched when it dies.

use super::*;
use crate::stats::{AutoChange, AutoLog};

impl Dispatcher {
    /// Shares an auto run's decisions with its reader (see [`AutoLog`]).
    pub(crate) fn with_auto_log(mut self, log: AutoLog) -> Self {
        if let Some(tune) = self.tune.as_mut() {
            tune.log = log;
        }
        self
    }

    /// In an auto run, decides on the window if it is over, and carries out
    /// a change.
    pub(super) fn tune(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        let Some(tune) = self.tune.as_mut() else { return };
        // Reading /proc/stat costs a few microseconds: not on every event.
        if tune.since.elapsed() < crate::auto::MIN_FIRST_WINDOW
            || tune.jobs < crate::auto::MIN_FIRST_WINDOW_JOBS
        {
            return;
        }
        let Some(verdict) = tune.close(Instant::now()) else { return };
        let at = self.started.elapsed();
        if verdict.changed || tune.changes.is_empty() {
            tracing::info!(threads = verdict.threads, at = ?at, "auto: {}", verdict.reason);
            let change = AutoChange {
                at,
                procs: self.cfg.procs,
                threads: verdict.threads,
                reason: verdict.reason.clone(),
            };
            tune.log.push(change.clone());
            tune.changes.push(change);
        } else {
            tracing::debug!(threads = verdict.threads, "auto: {}", verdict.reason);
        }
        if verdict.changed {
            self.set_threads(verdict.threads);
        }
    }

    /// Tells every worker that has had its hello to run `threads` threads;
    /// workers that have not get it in their hello.
    fn set_threads(&mut self, threads: usize) {
        self.chunker.set_parallel(threads);
        let bytes = wire::encode(&ToWorkerRef::<()>::Threads(threads as u32)).expect("a count encodes");
        for worker in self.slots.iter_mut().flatten() {
            if worker.tx.is_none() {
                continue;
            }
            worker.set_threads(threads);
            if let Some(Err(e)) = worker.tx.as_ref().map(|tx| tx.send(&bytes)) {
                // Gone: its close event follows.
                tracing::debug!(pid = worker.pid, error = %e, "send failed");
            }
        }
    }
}
