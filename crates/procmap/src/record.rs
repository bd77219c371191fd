//! What the pool reports for each job: one [`JobRecord`], whatever happened.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The task returned a value.
    Ok,
    /// The task returned an error or panicked, or the job line was invalid.
    Error,
    /// The job killed its worker process every time it ran.
    Crashed,
    /// The job ran longer than the timeout and its worker was killed.
    Timeout,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Ok, Status::Error, Status::Crashed, Status::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Crashed => "crashed",
            Status::Timeout => "timeout",
        }
    }
}

/// The result of one job, as written to the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's id: its 1-based line number in a jobs file.
    pub line: u64,
    pub task: String,
    pub args: Vec<String>,
    pub status: Status,
    /// The task's output, when `status` is ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Box<RawValue>>,
    /// What went wrong, for humans, when `status` is not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The signal that killed the worker, e.g. `SIGSEGV` (crashed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The worker's exit code, when it exited instead (crashed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The end of what the job wrote to its stdout, when its output was
    /// captured (`Capture::Tail`) and it wrote something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// The end of what the job wrote to its stderr, likewise; for a crash
    /// or a timeout, the end of the dying worker's stderr (which has the
    /// job's stdout too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// How many times the job was started.
    pub attempts: u32,
    /// The worker's pid in process mode, the thread's index in thread mode,
    /// 0 in serial mode; absent for a job that never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    /// The job's own run time in milliseconds; for a timeout, how long it
    /// ran before its worker was killed; absent for a job that never
    /// finished otherwise (a crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    /// When the job's last attempt started, in milliseconds since its run
    /// started: what places it on a timeline (`supervisor report`). Absent
    /// for a job that never ran, and in journals written before it existed.
    /// For a crashed job without start reports, when its chunk was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// The CPU time the job's thread used while it ran, in milliseconds,
    /// when the worker measured it: every job that follows one of 50 µs or
    /// more on its thread, and a sample of faster ones (see
    /// `exec::CpuSampler`). `cpu_ms` near `ms` is a CPU-bound job; far
    /// below it, a job that waits (on I/O, a lock, a sleep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
    /// The bytes a task returned for a job with a payload (see
    /// `Task::run_payload`), when `status` is ok. Never journaled: the
    /// caller decodes them.
    #[serde(skip)]
    pub output: Option<Vec<u8>>,
}

impl JobRecord {
    /// A record for a job that did not get to run, e.g. an invalid line.
    pub fn rejected(line: u64, task: String, args: Vec<String>, error: String) -> Self {
        JobRecord {
            line,
            task,
            args,
            status: Status::Error,
            value: None,
            error: Some(error),
            signal: None,
            exit_code: None,
            stdout: None,
            stderr: None,
            attempts: 0,
            worker: None,
            ms: None,
            start: None,
            cpu_ms: None,
            output: None,
        }
    }

    /// Builds the record of a job that ran to completion in a worker, in a
    /// run that started at `origin` (nanoseconds of the monotonic clock the
    /// result's `started` is read on).
    pub(crate) fn finished(
        job: procmap_wire::Job,
        result: procmap_wire::JobResult,
        attempts: u32,
        worker: u32,
        origin: u64,
    ) -> Self {
        use procmap_wire::Outcome;
        let mut record = JobRecord::rejected(job.id, job.task, job.args, String::new());
        record.attempts = attempts;
        record.worker = Some(worker);
        record.ms = Some(result.nanos as f64 / 1e6);
        record.start = Some(millis_since(origin, result.started));
        record.cpu_ms = result.cpu_nanos.map(|ns| ns as f64 / 1e6);
        if let Some(output) = &result.output {
            (record.stdout, record.stderr) = captured_text(output);
        }
        match result.outcome {
            Outcome::Ok(bytes) => {
                // The worker produced this with serde_json; if it is somehow
                // not valid JSON, say so rather than write a broken journal.
                match String::from_utf8(bytes).ok().and_then(|s| RawValue::from_string(s).ok()) {
                    Some(raw) => {
                        record.status = Status::Ok;
                        record.value = Some(raw);
                        record.error = None;
                    }
                    None => record.error = Some("the task's output is not valid JSON".into()),
                }
            }
            Outcome::Bytes(bytes) => {
                record.status = Status::Ok;
                record.output = Some(bytes);
                record.error = None;
            }
            Outcome::Error(msg) | Outcome::Panic(msg) => record.error = Some(msg),
        }
        record
    }
}

/// A job's captured streams as a record's text: lossy UTF-8, since a tail
/// may start inside a character; `None` for an empty stream, so that the
/// records of quiet jobs stay small.
pub fn captured_text(output: &procmap_wire::Captured) -> (Option<String>, Option<String>) {
    let text = |bytes: &[u8]| (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned());
    (text(&output.stdout), text(&output.stderr))
}

/// Milliseconds from `origin` to `at`, both in nanoseconds of one clock; 0
/// for a time before the origin.
pub(crate) fn millis_since(origin: u64, at: u64) -> f64 {
    at.saturating_sub(origin) as f64 / 1e6
}
