//! `--mode auto`: how many threads each worker process runs, decided window
//! by window from what the jobs do. Only decisions live here, with no I/O
//! and no clock, so that every rule is unit-tested; the dispatcher measures
//! the windows and carries the decisions out (`process/tune.rs`).
//!
//! The question is whether jobs are CPU-bound or wait (on I/O, a lock, a
//! sleep). A worker times each job on the monotonic clock and a sample of
//! them on its thread's CPU clock; the share of a CPU a job uses while it
//! runs (`cpu / wall`) answers it:
//!
//! - At or above [`CPU_BOUND`]: more threads than cores only share the
//!   cores, so one thread per worker, one worker per core (`--procs`).
//! - Below it, the jobs wait: threads per worker go up while throughput
//!   rises and down when it falls, a feedback loop in the spirit of TCP's
//!   congestion control and Netflix's concurrency-limits. The first step
//!   is a guess from the measured share (threads enough to keep a core
//!   busy), then doubling while throughput rises by more than [`GAIN`]
//!   (slow start); a rise that buys less than that, or a fall, goes back
//!   to the last good count, which becomes a ceiling that later probes
//!   pass only by small steps (additive increase). At a steady count a probe
//!   is tried every [`HOLD_WINDOWS`] windows; the count never passes
//!   [`MAX_THREADS`], nor what the machine's idle CPUs could feed.
//!
//! Windows last at least [`MIN_WINDOW`] and [`MIN_WINDOW_JOBS`] jobs, so
//! that on a small, shared machine one noisy window does not decide, and
//! a change needs a difference of 10% either way (hysteresis). The first
//! window is shorter ([`MIN_FIRST_WINDOW`], [`MIN_FIRST_WINDOW_JOBS`]).

use std::time::Duration;

/// The shortest window a decision is made on ...
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(500);

/// ... but for the first, which only tells CPU-bound jobs from waiting
/// ones, and compares no throughputs: the share of a CPU is far apart for
/// the two (over 15% against under 1% for a sleep), and the first window
/// runs at one thread per worker, which is what waiting jobs pay for
/// until it ends. At 0.1 s and 16 jobs, 10,000 jobs of 20 ms on 2 workers
/// took 1.13× the best configuration, the first window a tenth of it.
pub(crate) const MIN_FIRST_WINDOW: Duration = Duration::from_millis(50);

/// The fewest finished jobs the first window is decided on.
pub(crate) const MIN_FIRST_WINDOW_JOBS: u64 = 8;

/// The fewest finished jobs a window is decided on.
pub(crate) const MIN_WINDOW_JOBS: u64 = 16;

/// Jobs that use at least this share of a CPU while they run are
/// CPU-bound. Far below 1 because a job shares its core: on the 2-core
/// machine of the tests, with two builds beside the run, jobs that spin
/// used 42% each, and must not be taken for waiting ones (whose share is a
/// few percent: `cube X 20` uses well under 1%). A misjudged CPU-bound job
/// costs one window: more threads do not raise throughput, so the count
/// goes back.
pub(crate) const CPU_BOUND: f64 = 0.15;

/// The most threads a worker process runs.
pub const MAX_THREADS: usize = 64;

/// Throughput must rise by this factor for more threads to count as
/// better ...
pub(crate) const GAIN: f64 = 1.10;

/// ... and fall below this one to count as worse.
pub(crate) const LOSS: f64 = 0.90;

/// Windows at a steady count before a probe upwards.
pub(crate) const HOLD_WINDOWS: u32 = 4;

/// What the dispatcher measured over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// Jobs that finished in it.
    pub jobs: u64,
    pub elapsed: Duration,
    /// Of those, the jobs whose CPU time was measured ...
    pub measured: u64,
    /// ... their CPU time ...
    pub cpu: Duration,
    /// ... and their wall time.
    pub wall: Duration,
    /// The machine's idle CPUs on average over the window (`/proc/stat`),
    /// if known.
    pub idle_cpus: Option<f64>,
}

impl Window {
    /// Whether the window is long enough to decide on: `first` for the
    /// run's first decision.
    pub(crate) fn is_ready(&self, first: bool) -> bool {
        let (min, jobs) =
            if first { (MIN_FIRST_WINDOW, MIN_FIRST_WINDOW_JOBS) } else { (MIN_WINDOW, MIN_WINDOW_JOBS) };
        self.elapsed >= min && self.jobs >= jobs && self.measured > 0 && !self.wall.is_zero()
    }

    /// The share of a CPU the jobs used while they ran.
    pub(crate) fn cpu_share(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// Jobs per second.
    pub(crate) fn rate(&self) -> f64 {
        self.jobs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPUs the jobs kept busy on average.
    fn cpus_used(&self) -> f64 {
        let per_job = self.cpu.as_secs_f64() / self.measured.max(1) as f64;
        per_job * self.jobs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One decision: the threads per worker for the next window, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub threads: usize,
    /// Whether it differs from the count the window ran with.
    pub changed: bool,
    pub reason: String,
}

/// A window's count and throughput, to compare the next one with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    threads: usize,
    rate: f64,
}

/// The controller's memory between windows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tuner {
    procs: usize,
    /// The machine's CPUs (available parallelism).
    cpus: usize,
    threads: usize,
    /// The window before, while the jobs wait.
    last: Option<Sample>,
    /// A count above which throughput stopped rising: passed only by small
    /// steps.
    ceiling: Option<usize>,
    /// Windows at the current count.
    held: u32,
    /// Whether it has decided once.
    decided: bool,
}

impl Tuner {
    /// A run of `procs` workers, one thread each to begin with, on a
    /// machine of `cpus` CPUs.
    pub(crate) fn new(procs: usize, cpus: usize) -> Self {
        Tuner {
            procs: procs.max(1),
            cpus: cpus.max(1),
            threads: 1,
            last: None,
            ceiling: None,
            held: 0,
            decided: false,
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Whether `window` is long enough for the next decision.
    pub(crate) fn ready(&self, window: &Window) -> bool {
        window.is_ready(!self.decided)
    }

    /// Decides the threads per worker after `window`, which ran at the
    /// current count.
    pub(crate) fn decide(&mut self, window: &Window) -> Verdict {
        self.decided = true;
        let share = window.cpu_share();
        let current = self.threads;
        let rate = window.rate();
        // Waiting jobs use a fraction of a percent: say how small.
        let digits = if share < 0.1 { 1 } else { 0 };
        let uses = format!("jobs use {:.*}% of a CPU while they run", digits, share * 100.0);
        let (threads, why) = if share >= CPU_BOUND {
            self.last = None;
            self.ceiling = None;
            (1, format!("{uses}: CPU-bound, one thread per worker"))
        } else {
            let cap = self.cap(window, share);
            let (threads, why) = self.waiting(current, rate, cap, share);
            self.last = Some(Sample { threads: current, rate });
            (threads, format!("{uses}: {why}"))
        };
        self.held = if threads == current { self.held + 1 } else { 0 };
        self.threads = threads;
        let reason =
            format!("{why}: {} procs × {threads} thread{}", self.procs, if threads == 1 { "" } else { "s" });
        Verdict { threads, changed: threads != current, reason }
    }

    /// The most threads the machine's CPUs could feed: the jobs' share of a
    /// CPU times the threads of every worker must fit in the idle CPUs
    /// plus those the jobs use now (at least one CPU, since a busy machine
    /// still shares its cores), and never more than [`MAX_THREADS`].
    fn cap(&self, window: &Window, share: f64) -> usize {
        let budget = match window.idle_cpus {
            Some(idle) => (idle + window.cpus_used()).max(1.0),
            None => self.cpus as f64,
        };
        let fed = budget / (self.procs as f64 * share.max(1e-6));
        (fed.floor() as usize).clamp(1, MAX_THREADS)
    }

    /// The next count for jobs that wait, and why, after a window at
    /// `current` threads with throughput `rate`.
    fn waiting(&mut self, current: usize, rate: f64, cap: usize, share: f64) -> (usize, String) {
        if current > cap {
            return (cap, "more threads than the idle CPUs can feed".into());
        }
        let Some(last) = self.last else {
            // The first window that waits: as many threads as keep a core
            // busy, as far as the cap allows.
            let guess = ((1.0 / share.max(1e-6)).ceil() as usize).clamp(2, cap.max(2)).min(cap);
            return (guess, "the jobs wait, a first guess".into());
        };
        let before = format!("{:.0} → {:.0} jobs/s", last.rate, rate);
        if current > last.threads {
            if rate >= last.rate * GAIN {
                if current >= cap {
                    return (current, format!("{before} with more threads; at the cap"));
                }
                let next = self.grow(current).min(cap);
                return (next, format!("{before} with more threads: trying more"));
            }
            // More threads bought nothing (or lost): back to the count
            // before, which becomes the ceiling.
            self.ceiling = Some(last.threads);
            return (last.threads, format!("{before} with more threads: back"));
        }
        if current < last.threads && rate < last.rate * LOSS {
            return (last.threads, format!("{before} with fewer threads: back"));
        }
        if self.held + 1 >= HOLD_WINDOWS && current < cap {
            // Steady for a while: probe one small step up.
            return ((current + step(current)).min(cap), format!("{before}, steady: probing"));
        }
        (current, format!("{before}, steady"))
    }

    /// Doubling below the ceiling (slow start), small steps above it.
    fn grow(&self, current: usize) -> usize {
        match self.ceiling {
            Some(ceiling) if current >= ceiling => current + step(current),
            Some(ceiling) => (current * 2).min(ceiling.max(current + 1)),
            None => current * 2,
        }
    }
}

/// A small step up from `threads`: a quarter more, at least one.
fn step(threads: usize) -> usize {
    (threads / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `jobs` finished in one second, each measured, each
    /// using `share` of a CPU over 20 ms.
    fn window(jobs: u64, share: f64) -> Window {
        let wall = Duration::from_millis(20) * jobs as u32;
        Window {
            jobs,
            elapsed: Duration::from_secs(1),
            measured: jobs,
            cpu: wall.mul_f64(share),
            wall,
            idle_cpus: Some(8.0),
        }
    }

    #[test]
    fn cpu_bound_jobs_keep_one_thread_per_worker() {
        let mut tuner = Tuner::new(2, 2);
        for _ in 0..10 {
            let verdict = tuner.decide(&window(100, 0.97));
            assert_eq!(verdict.threads, 1);
            assert!(!verdict.changed);
            assert_eq!(
                verdict.reason,
                "jobs use 97% of a CPU while they run: CPU-bound, one thread per worker: 2 procs × 1 thread"
            );
        }
    }

    #[test]
    fn cpu_bound_jobs_on_a_crowded_machine_are_still_cpu_bound() {
        let mut tuner = Tuner::new(2, 2);
        assert_eq!(tuner.decide(&window(100, 0.3)).threads, 1);
    }

    #[test]
    fn waiting_jobs_grow_while_throughput_rises_and_back_off_when_it_falls() {
        let mut tuner = Tuner::new(2, 2);
        // 10% of a CPU: ten threads keep a core busy.
        let first = tuner.decide(&window(100, 0.1));
        assert_eq!((first.threads, first.changed), (10, true), "{}", first.reason);
        // Throughput rose 5×: slow start doubles ...
        let second = tuner.decide(&window(500, 0.1));
        assert_eq!(second.threads, 20, "{}", second.reason);
        assert!(second.reason.contains("100 → 500 jobs/s"), "{}", second.reason);
        // ... until the rise stops: back to 10, the ceiling.
        let third = tuner.decide(&window(510, 0.1));
        assert_eq!(third.threads, 10, "{}", third.reason);
        assert!(third.reason.ends_with("back: 2 procs × 10 threads"), "{}", third.reason);
    }

    #[test]
    fn a_fall_after_growing_goes_back() {
        let mut tuner = Tuner::new(2, 2);
        tuner.decide(&window(100, 0.01));
        let grown = tuner.threads();
        let verdict = tuner.decide(&window(60, 0.01));
        assert!(grown > 2 && verdict.threads == 1, "{grown} then {verdict:?}");
    }

    #[test]
    fn sleeping_jobs_go_to_the_cap_and_stay() {
        let mut tuner = Tuner::new(2, 2);
        assert_eq!(tuner.decide(&window(100, 0.001)).threads, MAX_THREADS);
        let at_cap = tuner.decide(&window(6000, 0.001));
        assert_eq!((at_cap.threads, at_cap.changed), (MAX_THREADS, false), "{}", at_cap.reason);
        for _ in 0..10 {
            assert_eq!(tuner.decide(&window(6000, 0.001)).threads, MAX_THREADS);
        }
    }

    #[test]
    fn a_steady_count_probes_upwards_after_a_while_and_keeps_it_only_if_it_pays() {
        let mut tuner = Tuner::new(2, 2);
        tuner.decide(&window(100, 0.1)); // 10
        tuner.decide(&window(500, 0.1)); // 20
        tuner.decide(&window(500, 0.1)); // back to 10, the ceiling
        let mut counts = Vec::new();
        for _ in 0..HOLD_WINDOWS {
            counts.push(tuner.decide(&window(500, 0.1)).threads);
        }
        assert_eq!(counts, [10, 10, 10, 12], "steady, then one step above the ceiling");
        // The probe bought nothing: back to 10, and steady again.
        assert_eq!(tuner.decide(&window(500, 0.1)).threads, 10);
        assert_eq!(tuner.decide(&window(500, 0.1)).threads, 10);
    }

    #[test]
    fn the_count_stays_within_what_idle_cpus_can_feed() {
        let mut tuner = Tuner::new(2, 2);
        // 10% of a CPU, no idle CPU: the jobs' own CPU use is the budget
        // (at least one CPU), so 1 / (2 × 0.1) = 5 threads.
        let mut busy = window(100, 0.1);
        busy.idle_cpus = Some(0.0);
        assert_eq!(tuner.decide(&busy).threads, 5);
        let mut idle = window(100, 0.1);
        idle.idle_cpus = Some(6.0);
        assert!(Tuner::new(2, 8).decide(&idle).threads >= 10);
    }

    #[test]
    fn jobs_that_turn_cpu_bound_go_back_to_one_thread() {
        let mut tuner = Tuner::new(2, 2);
        tuner.decide(&window(100, 0.01));
        let verdict = tuner.decide(&window(100, 0.9));
        assert_eq!((verdict.threads, verdict.changed), (1, true));
    }

    #[test]
    fn a_window_needs_time_jobs_and_a_measured_job() {
        let mut w = window(100, 0.5);
        assert!(w.is_ready(false));
        w.elapsed = MIN_WINDOW / 2;
        assert!(!w.is_ready(false));
        assert!(w.is_ready(true), "the first window is shorter");
        w.elapsed = MIN_FIRST_WINDOW / 2;
        assert!(!w.is_ready(true));
        let mut w = window(MIN_WINDOW_JOBS - 1, 0.5);
        assert!(!w.is_ready(false));
        assert!(w.is_ready(true), "and needs fewer jobs");
        w = window(MIN_FIRST_WINDOW_JOBS - 1, 0.5);
        assert!(!w.is_ready(true));
        w = window(100, 0.5);
        w.measured = 0;
        assert!(!w.is_ready(true));
    }

    #[test]
    fn only_the_first_decision_comes_after_a_short_window() {
        let mut tuner = Tuner::new(2, 2);
        let mut w = window(100, 0.5);
        w.elapsed = MIN_FIRST_WINDOW;
        assert!(tuner.ready(&w));
        tuner.decide(&w);
        assert!(!tuner.ready(&w));
    }
}
