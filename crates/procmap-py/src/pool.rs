//! The supervisor side of a Python pool: one engine run that lives as long
//! as the `procmap.Pool` (or `Executor`) that owns it, fed whole chunks.
//!
//! Python pickles each chunk of items once and [`NativePool::submit`]s the
//! bytes as one engine job (see [`crate::chunk`]); the engine's workers are
//! started on the first submit, reused by every later call, and stopped by
//! [`NativePool::close_input`] or [`NativePool::stop`]. One thread, the
//! pool's collector, calls [`NativePool::poll`], which waits for finished
//! chunks with the GIL released, in slices, so that the interpreter stays
//! responsive.
//!
//! The engine runs with no retries of its own and leaves every death to
//! Python (exact blame, and [`procmap::PoolBuilder::blame_by_caller`]):
//! each chunk that was running comes back crashed, and the worker's
//! [`crate::marker`] says which of its items was running and how many other
//! chunks were busy beside it (a worker with threads, `mode="auto"`).
//! Python decides from there (`procmap._blame`): a lone culprit counts a
//! run, its neighbours rerun free; the items of a shared death are rerun
//! alone ([`Input::Alone`]) until one dies by itself.

use crate::chunk;
use crate::error::PoolError as PyPoolError;
use crate::journal::Entries;
use crate::marker;
use crate::read::chain;
use crate::serve::CHUNK_TASK;
use crossbeam_channel::Sender;
use procmap::wire::Job;
use procmap::{Chunking, Input, JobRecord, Mode, Next, Pool, PoolError, Registry, Run, Status, StopHandle};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest the GIL stays released in one wait.
const SLICE: Duration = Duration::from_millis(50);

/// Finished chunks handed to Python per poll, at most.
const MAX_BATCH: usize = 256;

/// One finished chunk, as Python's collector takes it: `(job, status,
/// pickle, entries, error, signal, exit_code, stderr, worker, ms, (marked,
/// others), start)`; `start` is when the chunk started, in ms since the
/// engine's. `marked` is the index of the item a dead worker was running,
/// when it was running one of this chunk's; `others` how many other chunks
/// were busy in that worker (0 unless it ran several threads).
type Finished = (
    u64,
    &'static str,
    Option<Py<PyBytes>>,
    Option<Py<Entries>>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<u32>,
    Option<f64>,
    (Option<usize>, usize),
    Option<f64>,
);

/// One decision of `mode="auto"`: `(seconds since the engine started,
/// procs, threads per worker, why)`.
type Decision = (f64, usize, usize, String);

/// A pool's engine. Not for direct use: `procmap.Pool` drives it.
#[pyclass(module = "procmap._native")]
pub(crate) struct NativePool {
    pool: Pool,
    marks: PathBuf,
    /// What dead workers' marker files said.
    taken: marker::Taken,
    /// The decisions of an auto run, while the engine runs.
    auto: Mutex<Option<procmap::AutoLog>>,
    /// Open while the engine may take chunks.
    input: Mutex<Option<Sender<Input>>>,
    run: Mutex<Option<Run>>,
    stop: Mutex<Option<StopHandle>>,
}

#[pymethods]
impl NativePool {
    #[new]
    #[pyo3(signature = (*, program, worker_args, procs, marks, zygote=None, timeout=None, mem_limit=None,
        max_tasks_per_child=None, stop_grace=10.0, handshake_timeout=60.0, capture="none", auto=false))]
    #[expect(clippy::too_many_arguments, reason = "Python keyword arguments, one per pool option")]
    fn new(
        program: PathBuf,
        worker_args: Vec<String>,
        procs: usize,
        marks: PathBuf,
        zygote: Option<PathBuf>,
        timeout: Option<f64>,
        mem_limit: Option<u64>,
        max_tasks_per_child: Option<u64>,
        stop_grace: f64,
        handshake_timeout: f64,
        capture: &str,
        auto: bool,
    ) -> PyResult<Self> {
        let capture = prepared(capture)?;
        // What workers print reaches this process's stderr as it comes,
        // unless it is captured per item.
        let forwarding = (capture == procmap::wire::Capture::None)
            .then(|| procmap::WorkerOutput(std::sync::Arc::new(forward)));
        let pool = Pool::builder(Registry::new())
            .mode(Mode::Process)
            .auto(auto)
            .procs(procs)
            .chunking(Chunking::Auto)
            // Python counts an item's runs itself, from the marker.
            .retries(0)
            .exact_blame(true)
            .blame_by_caller(true)
            .timeout(timeout.map(Duration::from_secs_f64))
            .mem_limit(mem_limit)
            .max_tasks_per_child(max_tasks_per_child)
            .stop_grace(Duration::from_secs_f64(stop_grace.max(0.0)))
            // Python workers import the user's modules (numpy, ...) before
            // they answer, which takes far longer than a Rust worker's start.
            .handshake_timeout(Duration::from_secs_f64(handshake_timeout.max(1.0)))
            .worker_program(program)
            .worker_args(worker_args)
            .zygote(zygote)
            .worker_output(forwarding)
            .capture(capture)
            .build();
        Ok(NativePool {
            pool,
            marks,
            taken: marker::Taken::default(),
            auto: Mutex::new(None),
            input: Mutex::new(None),
            run: Mutex::new(None),
            stop: Mutex::new(None),
        })
    }

    /// Whether the engine is running (its workers started or starting).
    fn running(&self) -> bool {
        lock(&self.run).is_some()
    }

    /// Starts the engine if it is not running. Workers start as chunks
    /// come.
    fn start(&self) -> PyResult<()> {
        let mut run = lock(&self.run);
        if run.is_some() {
            return Ok(());
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let started = self.pool.run(rx).map_err(pool_error)?;
        *lock(&self.stop) = Some(started.stop_handle());
        *lock(&self.auto) = Some(started.auto_log());
        *lock(&self.input) = Some(tx);
        *run = Some(started);
        Ok(())
    }

    /// Queues a chunk (the pickle of `(job, kind, function, items,
    /// journal)`) as engine job `job`; one too big for a message goes
    /// through a file (see [`chunk::INLINE_BYTES`]). `alone`: its worker
    /// takes nothing else meanwhile ([`Input::Alone`]).
    #[pyo3(signature = (job, payload, alone=false))]
    fn submit(&self, job: u64, payload: &[u8], alone: bool) -> PyResult<()> {
        let input = lock(&self.input);
        let Some(tx) = input.as_ref() else {
            return Err(PyPoolError::new_err("the pool is not running (closed, or stopped by Ctrl-C)"));
        };
        let payload = if payload.len() > chunk::INLINE_BYTES {
            chunk::spill(&self.marks, payload).map_err(|e| {
                PyPoolError::new_err(format!(
                    "procmap: cannot write a chunk to {}: {e}",
                    self.marks.display()
                ))
            })?
        } else {
            payload.to_vec()
        };
        // The worker marks the chunk by its job before it reads the payload.
        let job = Job { id: job, task: CHUNK_TASK.to_owned(), args: vec![job.to_string()], payload };
        let input = if alone { Input::Alone(job) } else { Input::Job(job) };
        tx.send(input).map_err(|_| PyPoolError::new_err("the pool stopped taking chunks"))
    }

    /// Ends the input: the engine finishes the queued chunks, stops its
    /// workers, and `poll` returns `None` after the last chunk.
    fn close_input(&self) {
        *lock(&self.input) = None;
    }

    /// Waits up to `timeout` seconds for finished chunks and returns them
    /// (an empty list if none came), or `None` once the engine has
    /// delivered everything and ended (or is not running). The GIL is
    /// released while waiting.
    fn poll(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Vec<Finished>>> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        let mut guard = lock(&self.run);
        let Some(run) = guard.as_mut() else { return Ok(None) };
        let mut records = Vec::new();
        let ended = loop {
            let (got, ended) = py.detach(|| wait(run, deadline, &mut records));
            if got || ended || Instant::now() >= deadline {
                break ended;
            }
            // Ctrl-C reaches the caller's thread between slices.
            py.check_signals()?;
        };
        if ended && records.is_empty() {
            return Ok(None);
        }
        let mut finished = Vec::with_capacity(records.len());
        for record in records {
            finished.push(self.finished(py, record)?);
        }
        Ok(Some(finished))
    }

    /// The decisions of `mode="auto"` after the first `seen`, as they are
    /// made: `(at, procs, threads, why)`, `at` in seconds since the engine
    /// started. Empty when the engine is not running or not in auto.
    fn auto_since(&self, seen: usize) -> Vec<Decision> {
        let log = lock(&self.auto);
        let Some(log) = log.as_ref() else { return Vec::new() };
        log.since(seen).into_iter().map(|c| (c.at.as_secs_f64(), c.procs, c.threads, c.reason)).collect()
    }

    /// Asks the engine to stop taking chunks: chunks in flight may finish
    /// (up to the stop grace), unless `kill`, which kills workers at once.
    #[pyo3(signature = (kill=false))]
    fn stop(&self, kill: bool) {
        *lock(&self.input) = None;
        if let Some(stop) = lock(&self.stop).as_ref() {
            let level = stop.request_stop();
            if kill && level < 2 {
                stop.request_stop();
            }
        }
    }

    /// Waits for the engine's threads and workers to end (after `poll`
    /// returned `None`), so that a later `start` begins afresh. Raises
    /// `PoolError` if the pool could not run, e.g. workers did not start.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        *lock(&self.input) = None;
        let run = lock(&self.run).take();
        *lock(&self.stop) = None;
        *lock(&self.auto) = None;
        match run {
            Some(run) => py.detach(|| run.finish()).map(|_| ()).map_err(pool_error),
            None => Ok(()),
        }
    }
}

impl NativePool {
    fn finished(&self, py: Python<'_>, record: JobRecord) -> PyResult<Finished> {
        let mut pickle = None;
        let mut entries = None;
        let mut status = record.status.as_str();
        let mut error = record.error;
        if let Some(message) = &record.output {
            let output = chunk::unspill(message).map_err(|e| {
                PyPoolError::new_err(format!("procmap: cannot read a chunk's answer from its file: {e}"))
            })?;
            match chunk::split(&output) {
                Ok((bytes, tail)) => {
                    pickle = Some(PyBytes::new(py, bytes).unbind());
                    entries = tail
                        .map(|t| Py::new(py, Entries { bytes: Mutex::new(t.to_vec()), start: record.start }))
                        .transpose()?;
                }
                Err(e) => {
                    status = Status::Error.as_str();
                    error = Some(format!("procmap: a worker's answer is corrupt: {e}"));
                }
            }
        }
        // Where a dead worker was: only a crash or a timeout asks.
        let (marked, others) = match (record.status, record.worker) {
            (Status::Crashed | Status::Timeout, Some(pid)) => {
                self.taken.marks(&self.marks, pid).map_or((None, 0), |m| m.judge(record.line))
            }
            _ => (None, 0),
        };
        Ok((
            record.line,
            status,
            pickle,
            entries,
            error,
            record.signal,
            record.exit_code,
            record.stderr,
            record.worker,
            record.ms,
            (marked, others),
            record.start,
        ))
    }
}

/// A line a worker wrote (a `print()` of the user's function, a warning, a
/// traceback) on this process's stderr, as multiprocessing's workers'
/// would appear, marked with the worker's pid and with control characters
/// escaped so that no worker can move the terminal's cursor. Best effort: a
/// closed stderr loses the line, nothing more.
fn forward(pid: u32, line: &str) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut text = format!("[procmap worker {pid}] ");
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(text, "\\u{{{:x}}}", c as u32);
        } else {
            text.push(c);
        }
    }
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits one slice for records, appending them. Returns whether any came
/// and whether the run has delivered everything.
fn wait(run: &mut Run, deadline: Instant, records: &mut Vec<JobRecord>) -> (bool, bool) {
    let end = deadline.min(Instant::now() + SLICE);
    match run.next_timeout(end.saturating_duration_since(Instant::now())) {
        Next::Record(record) => {
            records.push(record);
            // Take what else is ready, without waiting.
            while records.len() < MAX_BATCH {
                match run.next_timeout(Duration::ZERO) {
                    Next::Record(record) => records.push(record),
                    Next::Pending => break,
                    Next::Finished => return (true, true),
                }
            }
            (true, false)
        }
        Next::Finished => (false, true),
        Next::Pending => (false, false),
    }
}

pub(crate) fn pool_error(e: PoolError) -> PyErr {
    let mut message = chain(&e);
    if let PoolError::WorkerStart { stderr, .. } = &e
        && !stderr.is_empty()
    {
        message.push_str("\nthe worker's stderr ends with:\n");
        message.push_str(stderr);
    }
    PyPoolError::new_err(message)
}

/// `capture=` ("none", "tail" or "files=DIR") as workers take it, through
/// the command line's parser: a files directory created and named
/// absolutely. ValueError or OSError, saying which.
fn prepared(capture: &str) -> PyResult<procmap::wire::Capture> {
    let parsed = capture
        .parse()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("procmap: capture={capture:?}: {e}")))?;
    procmap::prepare_capture(parsed).map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "procmap: capture={capture:?}: cannot create the directory: {e}"
        ))
    })
}

/// Why a pool cannot capture each item's output, if it cannot: under
/// `mode="auto"` (`auto`) its workers may run several threads, which share
/// one stdout and stderr. The engine's one rule, as the command line's.
#[pyfunction]
pub(crate) fn capture_impossible(auto: bool) -> Option<&'static str> {
    procmap::capture_impossible(Mode::Process, 1, auto)
}

/// [`prepared`] for the pool, before it starts anything: the capture's
/// canonical text (`files=` with an absolute directory).
#[pyfunction]
pub(crate) fn prepare_capture(capture: &str) -> PyResult<String> {
    prepared(capture).map(|c| c.to_string())
}
