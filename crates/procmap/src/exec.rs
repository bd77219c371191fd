//! Running one job: look up its task, catch a panic, time it, and encode its
//! output. Shared by the worker runtime, thread mode and serial mode, so that
//! all three produce the same outcome for the same job; [`run_chunk`] is
//! the chunk loop of thread and serial mode.

use crate::record::JobRecord;
use crate::stats::WorkerStats;
use crate::task::Registry;
use crate::unix::{monotonic_nanos, thread_cpu_nanos};
use procmap_wire::{Job, JobResult, Outcome, RunContext};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::Duration;

thread_local! {
    /// Set while this thread runs a job, so that the panic hook knows the
    /// panic will be caught and recorded rather than printed.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
    /// Where the hook leaves the location of the last caught panic.
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that stays quiet for panics
/// inside jobs, which become `error` records carrying the message and
/// location, and defers to the previous hook for every other panic.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_JOB.with(Cell::get) {
                let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LAST_PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Jobs that took at least this long have the next job on their thread
/// measured on the CPU clock too: for them the clock's cost (two system
/// calls, about 0.4 µs) is lost in the noise.
const MEASURE_AFTER_NANOS: u64 = 50_000;

/// Of jobs faster than [`MEASURE_AFTER_NANOS`], one in this many is
/// measured: measuring each would make a trivial job (`cube`, 0.4 µs in
/// all) twice as costly, and a sample is all that `--mode auto` needs to
/// tell CPU-bound jobs from waiting ones.
const SAMPLE_EVERY: u32 = 32;

/// Which jobs of one thread have their CPU time measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSampler {
    /// Jobs run since the last one measured.
    since: u32,
    /// The last job took at least [`MEASURE_AFTER_NANOS`].
    last_slow: bool,
}

impl CpuSampler {
    /// A thread's first job is measured: a run of a few slow jobs has
    /// each measured.
    pub(crate) const fn new() -> Self {
        CpuSampler { since: SAMPLE_EVERY - 1, last_slow: false }
    }

    /// Whether the next job is measured.
    pub(crate) fn due(self) -> bool {
        self.last_slow || self.since + 1 >= SAMPLE_EVERY
    }

    /// The sampler after a job that took `nanos`, measured or not.
    pub(crate) fn after(self, measured: bool, nanos: u64) -> Self {
        CpuSampler {
            since: if measured { 0 } else { self.since + 1 },
            last_slow: nanos >= MEASURE_AFTER_NANOS,
        }
    }
}

thread_local! {
    static SAMPLER: Cell<CpuSampler> = const { Cell::new(CpuSampler::new()) };
}

/// Runs `job` to completion on this thread, timing it on the monotonic
/// clock and, for a sample of jobs ([`CpuSampler`]), on the thread's CPU
/// clock.
pub(crate) fn run_job(registry: &Registry, ctx: &RunContext, job: &Job) -> JobResult {
    let measure = SAMPLER.with(|s| s.get().due());
    // The CPU clock is read inside the wall-clock interval, so that a job's
    // CPU time never exceeds its run time by the cost of the reads.
    let started = monotonic_nanos();
    let cpu_before = measure.then(thread_cpu_nanos);
    let outcome = outcome_of(registry, ctx, job);
    let cpu_nanos = cpu_before.map(|before| thread_cpu_nanos().saturating_sub(before));
    let nanos = monotonic_nanos().saturating_sub(started);
    SAMPLER.with(|s| s.set(s.get().after(measure, nanos)));
    JobResult { id: job.id, outcome, nanos, started, cpu_nanos, output: None }
}

/// What `job` came to: its task's output, error or panic.
fn outcome_of(registry: &Registry, ctx: &RunContext, job: &Job) -> Outcome {
    let Some(task) = registry.get(&job.task) else {
        return Outcome::Error(unknown_task_message(&job.task));
    };
    IN_JOB.with(|f| f.set(true));
    if !job.payload.is_empty() {
        let caught = panic::catch_unwind(AssertUnwindSafe(|| task.run_payload(&job.payload, &job.args, ctx)));
        IN_JOB.with(|f| f.set(false));
        return bytes_outcome(caught);
    }
    let caught = panic::catch_unwind(AssertUnwindSafe(|| task.run(&job.args, ctx)));
    IN_JOB.with(|f| f.set(false));
    match caught {
        Ok(Ok(value)) => match serde_json::to_vec(&value) {
            Ok(bytes) if bytes.len() > procmap_wire::MAX_OUTPUT_BYTES => Outcome::Error(format!(
                "the task's output is {} bytes of JSON; at most {} are allowed",
                bytes.len(),
                procmap_wire::MAX_OUTPUT_BYTES
            )),
            Ok(bytes) => Outcome::Ok(bytes),
            Err(e) => Outcome::Error(format!("cannot encode the task's output as JSON: {e}")),
        },
        Ok(Err(e)) => Outcome::Error(e.message().to_owned()),
        Err(payload) => Outcome::Panic(panic_message(payload.as_ref())),
    }
}

/// The outcome of [`crate::Task::run_payload`]: its bytes as they are,
/// within [`procmap_wire::MAX_PAYLOAD_BYTES`].
fn bytes_outcome(caught: std::thread::Result<Result<Vec<u8>, crate::JobError>>) -> Outcome {
    match caught {
        Ok(Ok(bytes)) if bytes.len() > procmap_wire::MAX_PAYLOAD_BYTES => Outcome::Error(format!(
            "the task's output is {} bytes; at most {} are allowed",
            bytes.len(),
            procmap_wire::MAX_PAYLOAD_BYTES
        )),
        Ok(Ok(bytes)) => Outcome::Bytes(bytes),
        Ok(Err(e)) => Outcome::Error(e.message().to_owned()),
        Err(payload) => Outcome::Panic(panic_message(payload.as_ref())),
    }
}

/// Runs a chunk's jobs one after another on this thread, as serial and
/// thread mode do, appending their records to `out` and counting them in
/// `stats` (whose `id` names the worker in the records), on the timeline of
/// a run that started at `origin` ([`monotonic_nanos`]). Returns the jobs'
/// own run time in all.
pub(crate) fn run_chunk(
    registry: &Registry,
    ctx: &RunContext,
    origin: u64,
    jobs: Vec<Job>,
    stats: &mut WorkerStats,
    out: &mut Vec<JobRecord>,
) -> u64 {
    let mut nanos = 0;
    out.reserve(jobs.len());
    for job in jobs {
        let result = run_job(registry, ctx, &job);
        nanos += result.nanos;
        out.push(JobRecord::finished(job, result, 1, stats.id, origin));
        stats.jobs += 1;
    }
    stats.busy += Duration::from_nanos(nanos);
    nanos
}

pub(crate) fn unknown_task_message(name: &str) -> String {
    format!("unknown task {name:?} (`supervisor tasks` lists them)")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    };
    match LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take()) {
        Some(location) => format!("panicked at {location}: {text}"),
        None => format!("panicked: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{JobError, Task};

    struct Boom;
    impl Task for Boom {
        fn name(&self) -> &str {
            "boom"
        }
        fn usage(&self) -> &str {
            ""
        }
        fn about(&self) -> &str {
            "panics"
        }
        fn run(&self, _: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
            panic!("kaboom")
        }
    }

    #[test]
    fn a_panic_becomes_an_outcome_with_its_location() {
        install_panic_hook();
        let mut registry = Registry::new();
        registry.register(Boom);
        let job = Job::new(9, "boom", vec![]);
        let result = run_job(&registry, &RunContext::default(), &job);
        match result.outcome {
            Outcome::Panic(msg) => {
                assert!(msg.contains("kaboom"), "{msg}");
                assert!(msg.contains("exec.rs"), "{msg}");
            }
            other => panic!("expected a panic outcome, got {other:?}"),
        }
    }

    #[test]
    fn slow_jobs_are_all_measured_and_fast_ones_sampled() {
        let mut sampler = CpuSampler::new();
        assert!(sampler.due(), "a thread's first job");
        let mut measured = 0;
        for _ in 0..SAMPLE_EVERY * 4 {
            let due = sampler.due();
            measured += u32::from(due);
            sampler = sampler.after(due, 400);
        }
        assert_eq!(measured, 4, "one fast job in {SAMPLE_EVERY}");
        let slow = sampler.after(false, MEASURE_AFTER_NANOS);
        assert!(slow.due(), "the job after a slow one is measured");
        assert!(!slow.after(true, 400).due(), "and after a fast measured one, sampling resumes");
    }

    #[test]
    fn a_job_that_spins_uses_cpu_and_one_that_sleeps_does_not() {
        struct Spin;
        impl Task for Spin {
            fn name(&self) -> &str {
                "spin"
            }
            fn usage(&self) -> &str {
                "sleep|spin"
            }
            fn about(&self) -> &str {
                "burns or waits 20 ms"
            }
            fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
                let until = std::time::Instant::now() + Duration::from_millis(20);
                if args[0] == "sleep" {
                    std::thread::sleep(Duration::from_millis(20));
                }
                while std::time::Instant::now() < until {
                    std::hint::spin_loop();
                }
                Ok(serde_json::Value::Null)
            }
        }
        let mut registry = Registry::new();
        registry.register(Spin);
        let ctx = RunContext::default();
        // After a slow job each is measured.
        run_job(&registry, &ctx, &Job::new(1, "spin", vec!["spin".into()]));
        let spin = run_job(&registry, &ctx, &Job::new(2, "spin", vec!["spin".into()]));
        let sleep = run_job(&registry, &ctx, &Job::new(3, "spin", vec!["sleep".into()]));
        let (spin_cpu, sleep_cpu) = (spin.cpu_nanos.unwrap(), sleep.cpu_nanos.unwrap());
        // Relative, not absolute: on a loaded machine the spinning thread
        // gets a fraction of a core, but still far more than a sleeper.
        assert!(
            spin_cpu > 10 * sleep_cpu.max(1000),
            "spinning: {spin_cpu} ns of CPU, sleeping: {sleep_cpu} ns"
        );
        assert!(sleep_cpu < sleep.nanos / 4, "sleeping: {sleep_cpu} ns of CPU in {} ns", sleep.nanos);
    }

    #[test]
    fn an_unknown_task_is_an_error() {
        let job = Job::new(1, "nope", vec![]);
        let result = run_job(&Registry::new(), &RunContext::default(), &job);
        assert!(matches!(result.outcome, Outcome::Error(m) if m.contains("unknown task \"nope\"")));
    }
}
