//! `--mode auto`'s window as the dispatcher measures it: jobs, their CPU
//! and wall time, the machine's idle CPUs; and the controller it asks
//! (`crate::auto`). What the dispatcher does with a decision is in
//! `tune.rs`.

use crate::auto::{Tuner, Window};
use crate::stats::{AutoChange, AutoLog};
use procmap_wire::JobResult;
use std::time::{Duration, Instant};

/// The window being measured, and the controller.
pub(super) struct Tune {
    tuner: Tuner,
    pub(super) since: Instant,
    pub(super) jobs: u64,
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
    pub(super) fn close(&mut self, now: Instant) -> Option<crate::auto::Verdict> {
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
