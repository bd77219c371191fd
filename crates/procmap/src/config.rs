//! A pool's settings: the [`Mode`] and what every mode's loop reads.

use crate::input::Chunking;
use procmap_wire::RunContext;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Where jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// In `procs` worker processes: a crash costs only its own job.
    #[default]
    Process,
    /// On `procs` threads of this process: panics are caught, but a
    /// segfault or abort takes the whole process down.
    Thread,
    /// Inline, one job after another, on the thread that reads the results.
    Serial,
}

/// Why a pool in `mode` with `threads` per worker (or, `auto`, threads
/// the run chooses: `--mode auto`) cannot capture each job's own output,
/// if it cannot: its jobs share one stdout and stderr. The one rule;
/// [`crate::Pool::run`] refuses a capture there, and the command line's
/// default falls back to none there.
pub fn capture_impossible(mode: Mode, threads: usize, auto: bool) -> Option<&'static str> {
    match mode {
        Mode::Thread => Some("thread mode"),
        Mode::Serial => Some("serial mode"),
        // Its workers may grow to several threads at any time.
        Mode::Process if auto => Some("auto mode (several threads per worker when jobs wait)"),
        Mode::Process if threads > 1 => Some("hybrid mode (--threads above 1)"),
        Mode::Process => None,
    }
}

/// `capture` ready for workers: a files directory created and named
/// absolutely (a worker may change its directory: `--python` workers do).
pub fn prepare_capture(capture: procmap_wire::Capture) -> std::io::Result<procmap_wire::Capture> {
    Ok(match capture {
        procmap_wire::Capture::Files(dir) => {
            std::fs::create_dir_all(&dir)?;
            procmap_wire::Capture::Files(std::path::absolute(&dir)?)
        }
        other => other,
    })
}

/// Where the lines a worker writes to its stderr go, as they come: the
/// worker's pid and the line (without its newline, invalid UTF-8 replaced).
/// Without one, they are kept only as the tail that explains a death.
#[derive(Clone)]
pub struct WorkerOutput(pub std::sync::Arc<OutputFn>);

/// What a [`WorkerOutput`] calls.
pub type OutputFn = dyn Fn(u32, &str) + Send + Sync;

impl std::fmt::Debug for WorkerOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerOutput(..)")
    }
}

/// Settings shared with the dispatcher.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub procs: usize,
    pub chunking: Chunking,
    /// Threads per worker process (hybrid mode when above 1); in an auto
    /// run, the count it starts with.
    pub threads: usize,
    /// `--mode auto`: process mode whose threads per worker the run
    /// chooses and adapts (`crate::auto`).
    pub auto: bool,
    pub program: PathBuf,
    /// Arguments for `program`, e.g. `-m procmap._worker` for a Python
    /// interpreter.
    pub worker_args: Vec<OsString>,
    /// A template process's socket: workers are forked by it rather than
    /// spawned from `program` (see `process/zygote.rs`).
    pub zygote: Option<PathBuf>,
    pub worker_output: Option<WorkerOutput>,
    /// What workers do with each job's stdout and stderr.
    pub capture: procmap_wire::Capture,
    pub context: RunContext,
    pub retries: u32,
    pub timeout: Option<Duration>,
    /// Workers report each job's start even without a timeout, so that a
    /// death blames exactly the job that was running (see
    /// [`Config::start_reports`]).
    pub exact_blame: bool,
    /// A death with several running jobs records each as crashed, for the
    /// caller to judge, instead of rerunning each alone (see
    /// [`crate::PoolBuilder::blame_by_caller`]).
    pub blame_by_caller: bool,
    pub mem_limit: Option<u64>,
    pub max_tasks_per_child: Option<u64>,
    pub flush_interval: Duration,
    pub handshake_timeout: Duration,
    pub kill_grace: Duration,
    pub stop_grace: Duration,
    /// This process is a subreaper while the run lasts and kills what
    /// ended workers left outside their process groups (see
    /// `process/leftovers.rs`).
    pub kill_leftovers: bool,
}

impl Config {
    /// Whether workers report each job's start: needed for a timeout's
    /// clock, and asked for by a caller that wants exact blame. A report
    /// costs a message per job, which is why it is not always on.
    pub(crate) fn start_reports(&self) -> bool {
        self.timeout.is_some() || self.exact_blame || self.blame_by_caller
    }
}
