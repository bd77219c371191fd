//! `--mode auto` on the dispatcher: measuring each window (jobs, their
//! CPU and wall time, the machine's idle CPUs), asking the controller
//! (`crate::auto`) and telling every worker its new thread count.
//!
//! Crash isolation holds whatever the count: jobs run in worker processes.
//! A worker that has been told to run more than one thread is judged as a
//! hybrid worker from the moment the message is sent (its marker is no
//! longer read, and any job it holds may have started), since it may
//! already have switched when it dies.

use super::*;
use crate::auto::{Tuner, Window};
use crate::stats::{AutoChange, AutoLog};

/// The window being measured, and the controller.
pub(super) struct Tune {
    tuner: Tuner,
    since: Instant,
    jobs: u64,
    measured: u64,
    cpu_nanos: u64,
    wall_nanos: u64,
    /// The machine's (idle, total) CPU ticks when the window began.
    ticks: Option<(u64, u64)>,
    cpus: usize,
    /// Every decision that changed the count, and the first one.
    pub(super) changes: Vec<AutoChange>,
    /// Where they are shared with the run's reader as they are made.
    pub(super) log: AutoLog,
}

impl Tune {
    pub(super) fn new(procs: usize) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Tune {
            tuner: Tuner::new(procs, cpus),
            since: Instant::now(),
            jobs: 0,
            measured: 0,
            cpu_nanos: 0,
            wall_nanos: 0,
            ticks: crate::unix::machine_cpu_ticks(),
            cpus,
            changes: Vec::new(),
            log: AutoLog::default(),
        }
    }

    /// Threads per worker now.
    pub(super) fn threads(&self) -> usize {
        self.tuner.threads()
    }

    /// Counts one finished job in the window.
    pub(super) fn observe(&mut self, result: &JobResult) {
        self.jobs += 1;
        if let Some(cpu) = result.cpu_nanos {
            self.measured += 1;
            self.cpu_nanos += cpu;
            self.wall_nanos += result.nanos;
        }
    }

    /// Closes the window if it is long enough, and returns the decision.
    fn close(&mut self, now: Instant) -> Option<crate::auto::Verdict> {
        let ticks = crate::unix::machine_cpu_ticks();
        let idle_cpus = match (self.ticks, ticks) {
            (Some((idle0, total0)), Some((idle1, total1))) if total1 > total0 => {
                Some((idle1.saturating_sub(idle0)) as f64 / (total1 - total0) as f64 * self.cpus as f64)
            }
            _ => None,
        };
        let window = Window {
            jobs: self.jobs,
            elapsed: now - self.since,
            measured: self.measured,
            cpu: Duration::from_nanos(self.cpu_nanos),
            wall: Duration::from_nanos(self.wall_nanos),
            idle_cpus,
        };
        if !self.tuner.ready(&window) {
            return None;
        }
        let verdict = self.tuner.decide(&window);
        (self.jobs, self.measured, self.cpu_nanos, self.wall_nanos) = (0, 0, 0, 0);
        self.since = now;
        self.ticks = ticks;
        Some(verdict)
    }
}

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
        if tune.since.elapsed() < crate::auto::MIN_FIRST_WINDOW || tune.jobs < crate::auto::MIN_WINDOW_JOBS {
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
