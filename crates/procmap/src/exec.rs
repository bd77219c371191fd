//! Running one job: look up its task, catch a panic, time it, and encode its
//! output. Shared by the worker runtime, thread mode and serial mode, so that
//! all three produce the same outcome for the same job; [`run_chunk`] is
//! the chunk loop of thread and serial mode.

use crate::record::JobRecord;
use crate::stats::WorkerStats;
use crate::task::Registry;
use crate::unix::monotonic_nanos;
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

/// Runs `job` to completion on this thread.
pub(crate) fn run_job(registry: &Registry, ctx: &RunContext, job: &Job) -> JobResult {
    let started = monotonic_nanos();
    let elapsed = || monotonic_nanos().saturating_sub(started);
    let outcome = match registry.get(&job.task) {
        None => Outcome::Error(unknown_task_message(&job.task)),
        Some(task) => {
            IN_JOB.with(|f| f.set(true));
            if !job.payload.is_empty() {
                let caught =
                    panic::catch_unwind(AssertUnwindSafe(|| task.run_payload(&job.payload, &job.args, ctx)));
                IN_JOB.with(|f| f.set(false));
                return JobResult {
                    id: job.id,
                    outcome: bytes_outcome(caught),
                    nanos: elapsed(),
                    started,
                    output: None,
                };
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
    };
    JobResult { id: job.id, outcome, nanos: elapsed(), started, output: None }
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
    fn an_unknown_task_is_an_error() {
        let job = Job::new(1, "nope", vec![]);
        let result = run_job(&Registry::new(), &RunContext::default(), &job);
        assert!(matches!(result.outcome, Outcome::Error(m) if m.contains("unknown task \"nope\"")));
    }
}
