//! The public face of the engine: [`Pool`] and its builder, which start a
//! [`Run`] in the chosen mode.

pub(crate) use crate::config::Config;
use crate::config::Mode;
use crate::error::PoolError;
use crate::exec;
use crate::input::{Chunker, Chunking};
use crate::input::{Feeder, Input, Source};
use crate::process::{Dispatcher, Event, EventKind};
use crate::run::{Inner, Run};
use crate::serial::Serial;
use crate::stats::WorkerStats;
use crate::task::Registry;
use procmap_wire::RunContext;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::{Duration, Instant};

/// Batches of records that may wait for the reader of a [`Run`]; with the
/// batch cap in the dispatcher this bounds the supervisor's memory, whatever
/// the length of the input.
const RECORD_BATCHES: usize = 4;

/// A configured pool. Build one with [`Pool::builder`], then [`Pool::run`]
/// it over any iterator of jobs.
///
/// ```no_run
/// use procmap::{Mode, Pool, Registry};
/// use procmap::wire::Job;
///
/// let pool = Pool::builder(Registry::new()).procs(4).chunksize(64).mode(Mode::Process).build();
/// let jobs = (1..=1000).map(|i| Job::new(i, "cube", vec![i.to_string()]).into());
/// let mut run = pool.run(jobs).unwrap();
/// for record in &mut run {
///     println!("{} {:?}", record.line, record.status);
/// }
/// let stats = run.finish().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    cfg: Config,
    mode: Mode,
    registry: Registry,
}

#[derive(Debug, Clone)]
pub struct PoolBuilder {
    pool: Pool,
}

impl Pool {
    /// A builder with the defaults: one process per core, chunks sized from
    /// measured job times ([`Chunking::Auto`]), process mode, the `supervisor-worker` beside this executable.
    /// `registry` holds the tasks for thread and serial modes, and lets the
    /// supervisor check arguments before dispatch in process mode.
    pub fn builder(registry: Registry) -> PoolBuilder {
        PoolBuilder {
            pool: Pool {
                cfg: Config {
                    procs: std::thread::available_parallelism().map_or(1, |n| n.get()),
                    chunking: Chunking::Auto,
                    threads: 1,
                    auto: false,
                    program: default_worker_program(),
                    worker_args: Vec::new(),
                    context: RunContext::default(),
                    retries: 2,
                    timeout: None,
                    exact_blame: false,
                    blame_by_caller: false,
                    zygote: None,
                    worker_output: None,
                    capture: procmap_wire::Capture::None,
                    mem_limit: None,
                    max_tasks_per_child: None,
                    flush_interval: Duration::from_millis(10),
                    handshake_timeout: Duration::from_secs(10),
                    kill_grace: Duration::from_secs(1),
                    stop_grace: Duration::from_secs(10),
                    kill_leftovers: false,
                },
                mode: Mode::Process,
                registry,
            },
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The tasks of the worker program, as it reports them in the
    /// handshake: a custom worker's own tasks included.
    pub fn worker_tasks(&self) -> Result<Vec<procmap_wire::TaskInfo>, PoolError> {
        crate::process::catalogue(&self.cfg)
    }

    pub fn procs(&self) -> usize {
        self.cfg.procs
    }

    pub fn chunking(&self) -> Chunking {
        self.cfg.chunking
    }

    pub fn threads(&self) -> usize {
        self.cfg.threads
    }

    /// Why each job's own output cannot be captured in this pool, when it
    /// is asked for (see [`crate::config::capture_impossible`]).
    fn shares_fds(&self) -> Option<&'static str> {
        if self.cfg.capture == procmap_wire::Capture::None {
            return None;
        }
        crate::config::capture_impossible(self.mode, self.cfg.threads, self.cfg.auto)
    }

    /// Starts running `jobs`. Input is pulled lazily, a chunk at a time, so
    /// memory does not grow with its length.
    pub fn run<I>(&self, jobs: I) -> Result<Run, PoolError>
    where
        I: IntoIterator<Item = Input>,
        I::IntoIter: Send + 'static,
    {
        exec::install_panic_hook();
        if let Some(mode) = self.shares_fds() {
            return Err(PoolError::CaptureShared { mode });
        }
        let started = Instant::now();
        let inputs: Box<dyn Iterator<Item = Input> + Send> = Box::new(jobs.into_iter());
        let feeder = |source| Feeder::new(source, self.registry.clone(), self.cfg.context.clone());
        let stop = Arc::new(AtomicU8::new(0));
        let auto = crate::stats::AutoLog::default();
        let inner = match self.mode {
            Mode::Serial => Inner::Serial(Box::new(Serial {
                feeder: feeder(Source::Blocking(inputs)),
                registry: self.registry.clone(),
                context: self.cfg.context.clone(),
                chunker: Chunker::new(self.cfg.chunking, 1),
                stats: WorkerStats::default(),
                started,
                origin: crate::unix::monotonic_nanos(),
            })),
            Mode::Thread => {
                let (tx, rx) = crossbeam_channel::bounded(RECORD_BATCHES);
                let feeder = feeder(Source::Blocking(inputs));
                let handle =
                    crate::threads::start(&self.cfg, self.registry.clone(), feeder, tx, Arc::clone(&stop))
                        .map_err(PoolError::Thread)?;
                Inner::Channel { rx, handle: Some(handle), wake: None }
            }
            Mode::Process => {
                // Said before anything is spawned: past the limit, a spawn
                // fails halfway through with EMFILE from deep in ipc-channel.
                crate::unix::ensure_fd_limit(self.cfg.procs)?;
                let (tx, rx) = crossbeam_channel::bounded(RECORD_BATCHES);
                // Bounded, so that when the dispatcher falls behind, reader
                // threads and then workers wait instead of results piling up
                // in memory. It cannot deadlock: the dispatcher never blocks
                // on a worker (chunks in flight fit in its socket buffer).
                // Small, too: one event may carry a few thousand results.
                let events = crossbeam_channel::bounded::<Event>(32);
                let wake = events.0.clone();
                let input_wake = events.0.clone();
                let source = Source::background(inputs, move || {
                    let _ =
                        input_wake.try_send(Event { slot: usize::MAX, generation: 0, kind: EventKind::Wake });
                })
                .map_err(PoolError::Thread)?;
                let feeder = feeder(source);
                let dispatcher =
                    Dispatcher::new(Arc::new(self.cfg.clone()), feeder, tx, Arc::clone(&stop), events)
                        .with_auto_log(auto.clone());
                // Workers are spawned from this thread, which lives as long
                // as the run: their parent-death signal is tied to it.
                let handle = std::thread::Builder::new()
                    .name("dispatcher".into())
                    .spawn(move || dispatcher.run())
                    .map_err(PoolError::Thread)?;
                Inner::Channel { rx, handle: Some(handle), wake: Some(wake) }
            }
        };
        Ok(Run::new(inner, stop, auto))
    }
}

impl PoolBuilder {
    /// Worker processes (or threads). Values below 1 are raised to 1.
    pub fn procs(mut self, n: usize) -> Self {
        self.pool.cfg.procs = n.max(1);
        self
    }

    /// A fixed number of jobs per chunk. Values below 1 are raised to 1.
    pub fn chunksize(mut self, n: usize) -> Self {
        self.pool.cfg.chunking = Chunking::Fixed(n.max(1));
        self
    }

    /// Fixed chunks, or sized from measured job times (the default).
    pub fn chunking(mut self, chunking: Chunking) -> Self {
        self.pool.cfg.chunking = chunking;
        self
    }

    /// Threads in each worker process: hybrid mode, procs × threads, for
    /// jobs that wait on I/O. Process mode only.
    pub fn threads(mut self, n: usize) -> Self {
        self.pool.cfg.threads = n.max(1);
        self
    }

    /// Process mode whose threads per worker the run chooses and adapts
    /// (`--mode auto`, see [`crate::auto`]): one per worker while jobs are
    /// CPU-bound, more while they wait and more threads raise throughput.
    /// It starts at one thread per worker, whatever [`Self::threads`] says;
    /// [`Stats::auto`](crate::Stats::auto) tells what it chose and why.
    pub fn auto(mut self, on: bool) -> Self {
        self.pool.cfg.auto = on;
        self
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.pool.mode = mode;
        self
    }

    /// The worker executable for process mode.
    pub fn worker_program(mut self, path: impl Into<PathBuf>) -> Self {
        self.pool.cfg.program = path.into();
        self
    }

    /// Arguments passed to every worker program started (none by default).
    pub fn worker_args<A: Into<OsString>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.pool.cfg.worker_args = args.into_iter().map(Into::into).collect();
        self
    }

    pub fn context(mut self, context: RunContext) -> Self {
        self.pool.cfg.context = context;
        self
    }

    /// How many times a job that killed its worker is rerun before it is
    /// recorded as crashed.
    pub fn retries(mut self, n: u32) -> Self {
        self.pool.cfg.retries = n;
        self
    }

    /// Kill a job (and its worker) that runs longer than this. Process mode
    /// only: a thread cannot be killed.
    pub fn timeout(mut self, limit: Option<Duration>) -> Self {
        self.pool.cfg.timeout = limit;
        self
    }

    /// Cap each worker's data segment (RLIMIT_DATA) at this many bytes.
    pub fn mem_limit(mut self, bytes: Option<u64>) -> Self {
        self.pool.cfg.mem_limit = bytes;
        self
    }

    /// Replace each worker after it has been given this many jobs.
    pub fn max_tasks_per_child(mut self, n: Option<u64>) -> Self {
        self.pool.cfg.max_tasks_per_child = n.map(|n| n.max(1));
        self
    }

    /// The longest a finished result waits in a worker before it is sent.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.pool.cfg.flush_interval = interval;
        self
    }

    /// How long in-flight jobs may run after a stop request.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.pool.cfg.stop_grace = grace;
        self
    }

    /// Has workers report the start of every job, so that a worker's death
    /// blames exactly the job it was running and no neighbour is rerun as a
    /// suspect. Costs one message per job; on with a timeout anyway.
    /// Python's pool, whose jobs are whole chunks, turns it on.
    pub fn exact_blame(mut self, on: bool) -> Self {
        self.pool.cfg.exact_blame = on;
        self
    }

    /// Leaves a death with several running jobs (a worker with threads:
    /// hybrid or auto) to the caller: each running job is recorded as
    /// crashed, where the engine would rerun each alone and record none.
    /// For a caller that knows more than the engine about what ran, and
    /// resubmits suspects itself ([`Input::Alone`]): the Python pool, whose
    /// jobs are chunks and whose workers mark each thread's item. Implies
    /// exact blame (start reports), so that the running jobs are known.
    pub fn blame_by_caller(mut self, on: bool) -> Self {
        self.pool.cfg.blame_by_caller = on;
        self
    }

    /// Forks workers from the template process listening on `socket`
    /// instead of spawning `program` (see the protocol in
    /// `process/zygote.rs`). Python's pool uses this so that a worker costs
    /// a fork rather than an interpreter's start and the user's imports.
    pub fn zygote(mut self, socket: Option<PathBuf>) -> Self {
        self.pool.cfg.zygote = socket;
        self
    }

    /// Hands every line a worker writes to its stderr (a task's prints
    /// included: a worker's stdout goes there too) to `output`, as it comes.
    pub fn worker_output(mut self, output: Option<crate::WorkerOutput>) -> Self {
        self.pool.cfg.worker_output = output;
        self
    }

    /// What workers do with what each job writes to its stdout and stderr
    /// (see `worker::capture`). Process mode with one thread per worker
    /// only: [`Pool::run`] refuses it elsewhere.
    pub fn capture(mut self, capture: procmap_wire::Capture) -> Self {
        self.pool.cfg.capture = capture;
        self
    }

    /// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`)
    /// while a process-mode run lasts, and kills every child of it that is
    /// not a worker: what a job started in a session of its own (`setsid`,
    /// a double fork) is re-parented here when its parent ends, and is
    /// killed when a worker ends and when the run ends. Only for a process
    /// whose children are all this pool's workers, with one such run at a
    /// time (the `supervisor` binary): any other child it has is killed too.
    /// It does not reach what escapes through a daemon of the system
    /// (`systemd-run`, `at`), or anything once this process is SIGKILLed.
    pub fn kill_leftovers(mut self, on: bool) -> Self {
        self.pool.cfg.kill_leftovers = on;
        self
    }

    /// How long a worker may take to start and answer the handshake.
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.pool.cfg.handshake_timeout = limit;
        self
    }

    pub fn build(mut self) -> Pool {
        if self.pool.cfg.auto {
            // Auto starts at one thread per worker (see `crate::auto`).
            self.pool.cfg.threads = 1;
        }
        self.pool
    }
}

/// The `supervisor-worker` beside the current executable.
pub fn default_worker_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().unwrap_or(Path::new("."));
    // Test binaries live one level down, in target/<profile>/deps.
    let beside = dir.join("supervisor-worker");
    if !beside.exists() && dir.ends_with("deps") {
        return dir.parent().unwrap_or(dir).join("supervisor-worker");
    }
    beside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_is_refused_where_jobs_share_their_streams() {
        let pool = |mode, threads| {
            Pool::builder(Registry::new())
                .mode(mode)
                .threads(threads)
                .capture(procmap_wire::Capture::Tail)
                .build()
        };
        for (mode, threads, name) in
            [(Mode::Thread, 1, "thread mode"), (Mode::Serial, 1, "serial mode"), (Mode::Process, 2, "hybrid")]
        {
            match pool(mode, threads).run(Vec::new()) {
                Err(e @ PoolError::CaptureShared { .. }) => assert!(e.to_string().contains(name), "{e}"),
                Err(e) => panic!("{mode:?}: another error: {e}"),
                Ok(_) => panic!("{mode:?} × {threads}: a capture was accepted"),
            }
        }
        // Issue 21: an auto run's workers may grow to several threads.
        let auto = Pool::builder(Registry::new()).auto(true).capture(procmap_wire::Capture::Tail).build();
        match auto.run(Vec::new()) {
            Err(e @ PoolError::CaptureShared { .. }) => assert!(e.to_string().contains("auto mode"), "{e}"),
            Err(e) => panic!("auto: another error: {e}"),
            Ok(_) => panic!("auto: a capture was accepted"),
        }
        let quiet = Pool::builder(Registry::new()).mode(Mode::Serial).build();
        assert!(quiet.run(Vec::new()).is_ok(), "no capture, no refusal");
    }
}
