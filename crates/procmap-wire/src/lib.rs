//! Wire types shared by the procmap supervisor and its workers.
//!
//! Everything that crosses the process boundary is defined here, in one small
//! crate, so that both sides agree by construction. The supervisor and a
//! worker first exchange [`Hello`] and [`WorkerHello`], which carry
//! [`PROTOCOL_VERSION`]; a worker built against another version is refused at
//! the handshake instead of misreading chunks later.
//!
//! Payloads are encoded with bincode 2 ([`encode`], [`decode`]) and travel as
//! opaque bytes over ipc-channel. bincode is not self-describing, so these
//! types avoid `#[serde(flatten)]`, `skip`, `tag` and `untagged`, and task
//! outputs are carried as JSON text ([`Outcome::Ok`]) rather than as
//! `serde_json::Value`, which bincode cannot decode.
//!
//! ```
//! use procmap_wire::{decode, encode, Job, ToWorker};
//! let msg = ToWorker::Chunk { chunk: 7, jobs: vec![Job::new(1, "cube", vec!["3".into()])] };
//! let bytes = encode(&msg).unwrap();
//! assert_eq!(decode::<ToWorker>(&bytes).unwrap(), msg);
//! ```

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bumped on every incompatible change to the types in this crate.
pub const PROTOCOL_VERSION: u32 = 5;

/// The largest message either side will decode: room for one
/// [`MAX_PAYLOAD_BYTES`] payload and its framing. A chunk of job lines or a
/// result batch is far smaller; the limit stops a corrupt length prefix
/// from allocating gigabytes.
pub const MAX_MESSAGE_BYTES: usize = MAX_PAYLOAD_BYTES + (16 << 20);

/// The largest [`Job::payload`] the supervisor dispatches, and the largest
/// [`Outcome::Bytes`] a worker sends back; a bigger one is that job's
/// error. Python's pool carries pickled items and values this way, and
/// promises at least 64 MiB each.
pub const MAX_PAYLOAD_BYTES: usize = 256 << 20;

/// A worker that finishes a chunk of fewer jobs than this while the next
/// chunk is already waiting may hold the results back and send them with
/// the next chunk's, so that tiny chunks do not cost a message each way.
/// A chunk at least this big always has its results sent when it ends,
/// which is what lets the supervisor bound where a crashed worker was.
pub const COALESCE_BELOW: usize = 16;

/// The largest job (task name and arguments, not counting its payload) the
/// supervisor dispatches; a longer line is that job's error.
pub const MAX_JOB_BYTES: usize = 1 << 20;

/// The largest output (JSON text) a task may return; a bigger one is that
/// job's error rather than a message the supervisor would refuse.
pub const MAX_OUTPUT_BYTES: usize = 8 << 20;

/// The exit code of a worker that gave up on its own: it could not connect,
/// the handshake failed, or a message from the supervisor did not decode.
/// Its stderr says why; the supervisor's death report names this code.
pub const EXIT_WORKER_ERROR: u8 = 3;

/// The exit code of a Rust process whose panic escaped (std's default).
pub const EXIT_PANIC: u8 = 101;

/// Environment variable through which the supervisor passes the name of its
/// one-shot IPC server to a worker.
pub const SERVER_ENV: &str = "PROCMAP_IPC_SERVER";

/// One unit of work: a task name and its arguments.
///
/// `id` is chosen by the supervisor (the jobs file uses the 1-based line
/// number) and is echoed in the job's [`JobResult`]. `payload` is opaque
/// bytes for a task that takes them (`Task::run_payload`): Python's pool
/// sends a chunk of pickled items this way, with no text encoding on the
/// way. Job lines have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Job {
    pub id: u64,
    pub task: String,
    pub args: Vec<String>,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl Job {
    /// A job without a payload, as a job line makes.
    pub fn new(id: u64, task: impl Into<String>, args: Vec<String>) -> Self {
        Job { id, task: task.into(), args, payload: Vec::new() }
    }
}

/// Settings that every task invocation can see, sent once in [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunContext {
    /// Where tasks write outputs that the job did not name explicitly.
    pub out_dir: PathBuf,
    /// Whether a job may name an output outside `out_dir`.
    pub allow_outside: bool,
}

/// Supervisor → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// First message: the protocol version and the run's settings.
    Hello(Hello),
    /// A batch of jobs to run in order. `chunk` is the supervisor's sequence
    /// number for it, echoed in [`FromWorker::Results`].
    Chunk { chunk: u64, jobs: Vec<Job> },
    /// Finish the current chunk, flush, and exit 0.
    Shutdown,
    /// Run jobs on this many threads from now on (`--mode auto` changes
    /// it during a run; protocol 5). A worker that goes from one thread to
    /// several stops marking the job it runs (see [`WorkerHello::marks`]),
    /// and the supervisor stops reading its marker from the moment it
    /// sends this.
    Threads(u32),
}

/// A borrowed [`ToWorker`] with the same encoding, so that the supervisor
/// can send a chunk without cloning the jobs it must keep for a rerun.
#[derive(Serialize)]
pub enum ToWorkerRef<'a, J: Serialize> {
    Hello(&'a Hello),
    Chunk { chunk: u64, jobs: J },
    Shutdown,
    Threads(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub context: RunContext,
    /// How long a worker may hold finished results before sending them, in
    /// microseconds. Results are batched because each IPC message costs
    /// about 10 µs; the timer keeps slow jobs' results live.
    pub flush_interval_us: u64,
    /// Send [`FromWorker::Started`] before each job.
    pub report_starts: bool,
    /// Threads that run jobs in the worker (hybrid mode when above 1).
    pub threads: u32,
    /// What the worker does with each job's stdout and stderr (protocol 4).
    pub capture: Capture,
}

/// What a worker does with what each job writes to its stdout and stderr
/// (protocol 4). Only a worker with one thread can tell its jobs' output
/// apart: the supervisor sends `None` to any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Capture {
    /// Both go to the worker's stderr, which the supervisor reads.
    #[default]
    None,
    /// The last [`CAPTURE_TAIL_BYTES`] of each stream come back in the
    /// job's [`JobResult`].
    Tail,
    /// Each stream goes to `DIR/<id>.out` and `DIR/<id>.err`, where `id`
    /// is the job's (or a task's own item's) number; an empty stream
    /// leaves no file.
    Files(PathBuf),
}

/// `none`, `tail` or `files=DIR`: the command line's `--capture` and
/// Python's `capture=` alike.
impl std::str::FromStr for Capture {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Capture::None),
            "tail" => Ok(Capture::Tail),
            _ => match s.strip_prefix("files=") {
                Some("") => Err("files= needs a directory: files=DIR".into()),
                Some(dir) => Ok(Capture::Files(dir.into())),
                None => Err(format!("expected none, tail or files=DIR, got {s:?}")),
            },
        }
    }
}

impl std::fmt::Display for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capture::None => f.write_str("none"),
            Capture::Tail => f.write_str("tail"),
            Capture::Files(dir) => write!(f, "files={}", dir.display()),
        }
    }
}

/// How much of each of a job's streams [`Capture::Tail`] keeps: the end.
pub const CAPTURE_TAIL_BYTES: usize = 4096;

/// Worker → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// Reply to [`Hello`].
    Hello(WorkerHello),
    /// Finished jobs, in the order they finished, and the chunks whose last
    /// result is in this batch or an earlier one. A worker with several
    /// threads finishes jobs out of order, possibly from two chunks.
    Results { results: Vec<JobResult>, chunks_done: Vec<u64> },
    /// The worker is about to run job `id`. Sent only when
    /// [`Hello::report_starts`] asks for it: the supervisor needs exact start
    /// times to enforce a timeout, and the extra message per job is too
    /// costly otherwise.
    Started { id: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerHello {
    pub protocol: u32,
    pub pid: u32,
    /// The tasks this worker binary can run, so that the supervisor can check
    /// job lines against a custom worker's own tasks.
    pub tasks: Vec<TaskInfo>,
    /// Whether it marks each job it starts in the file its environment
    /// names (`procmap::marker`), so that a death blames exactly that job.
    pub marks: bool,
}

/// A task's name and help, as listed by `supervisor tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub name: String,
    pub usage: String,
    pub about: String,
}

/// What happened to one job inside a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub id: u64,
    pub outcome: Outcome,
    /// The job's own run time in nanoseconds.
    pub nanos: u64,
    /// When it started, in nanoseconds of the machine's monotonic clock
    /// (`CLOCK_MONOTONIC`, which every process of the machine shares): the
    /// supervisor places the job on its run's timeline (protocol 3).
    pub started: u64,
    /// The CPU time the job's thread used while it ran, in nanoseconds
    /// (`CLOCK_THREAD_CPUTIME_ID`), when it was measured: reading that
    /// clock is a system call of about 0.2 µs, as long as a tiny job, so a
    /// worker measures a sample of the jobs (see `procmap::exec`). What
    /// `--mode auto` tells CPU-bound from waiting jobs by (protocol 5).
    pub cpu_nanos: Option<u64>,
    /// The end of what the job wrote to its stdout and to its stderr, under
    /// [`Capture::Tail`], when it wrote something (protocol 4). Boxed: a
    /// quiet job's result stays as small as before.
    pub output: Option<Box<Captured>>,
}

/// The ends of a job's two streams (see [`Capture::Tail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Captured {
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
}

impl Captured {
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The task's output, serialized as JSON text.
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The task returned an error; the message is for humans.
    Error(String),
    /// The task panicked; the worker caught it and lives on.
    Panic(String),
    /// The output of a task run on a [`Job::payload`]: opaque bytes for the
    /// caller to decode (Python's pool: one pickle of a chunk's results).
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot encode message")]
    Encode(#[source] bincode::error::EncodeError),
    #[error("cannot decode message")]
    Decode(#[source] bincode::error::DecodeError),
    #[error("{trailing} trailing bytes after message")]
    Trailing { trailing: usize },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>()
}

/// Encodes a message with the one bincode configuration both sides use.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(msg, config()).map_err(WireError::Encode)
}

/// Decodes a message encoded by [`encode`], rejecting trailing garbage.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    let (msg, used) = bincode::serde::decode_from_slice(bytes, config()).map_err(WireError::Decode)?;
    if used != bytes.len() {
        return Err(WireError::Trailing { trailing: bytes.len() - used });
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip() {
        let msg = FromWorker::Results {
            chunks_done: vec![3],
            results: vec![
                JobResult {
                    id: 1,
                    outcome: Outcome::Ok(b"343".to_vec()),
                    nanos: 12,
                    started: 5,
                    cpu_nanos: Some(9),
                    output: None,
                },
                JobResult {
                    id: 2,
                    outcome: Outcome::Error("bad".into()),
                    nanos: 1,
                    started: 7,
                    cpu_nanos: None,
                    output: Some(Box::new(Captured { stdout: b"out".to_vec(), stderr: b"err".to_vec() })),
                },
                JobResult {
                    id: 3,
                    outcome: Outcome::Panic("boom".into()),
                    nanos: 1,
                    started: 7,
                    cpu_nanos: None,
                    output: None,
                },
            ],
        };
        let bytes = encode(&msg).unwrap();
        assert_eq!(decode::<FromWorker>(&bytes).unwrap(), msg);
    }

    #[test]
    fn borrowed_chunks_encode_like_owned_ones() {
        let jobs = vec![Job::new(1, "cube", vec!["3".into()])];
        let owned = encode(&ToWorker::Chunk { chunk: 4, jobs: jobs.clone() }).unwrap();
        let borrowed = encode(&ToWorkerRef::Chunk { chunk: 4, jobs: &jobs[..] }).unwrap();
        assert_eq!(owned, borrowed);
        assert_eq!(encode(&ToWorker::Shutdown).unwrap(), encode(&ToWorkerRef::<()>::Shutdown).unwrap());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&ToWorker::Shutdown).unwrap();
        bytes.push(0);
        assert!(matches!(decode::<ToWorker>(&bytes), Err(WireError::Trailing { trailing: 1 })));
    }
}
