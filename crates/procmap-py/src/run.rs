//! The supervisor side: one engine run driven by the Python thread.
//!
//! The Python thread owns the user's iterator, so it is the one that pulls
//! and pickles items; it hands them to [`NativeRun::feed`], which puts them
//! on a bounded channel that the engine's input thread reads. Memory stays
//! flat whatever the input's length: the Python side only feeds as many
//! items as [`NativeRun::room`] says fit. [`NativeRun::poll`] waits for
//! records with the GIL released, in slices, checking for signals between
//! them, and hands each batch of records to the journal's writer thread.

use crate::PoolError as PyPoolError;
use crate::journal::{self, Journal, JournalError, JournalThread};
use crate::result::{Fields, ItemResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use crossbeam_channel::Sender;
use procmap::wire::Job;
use procmap::{Chunking, Input, JobRecord, Mode, Next, Pool, PoolError, Registry, Run, StopHandle};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Items that may wait between the Python thread and the engine. The engine
/// buffers a few thousand more; together they keep workers busy between two
/// polls without holding a large input in memory.
const INPUT_CAP: usize = 8192;

/// The longest the GIL stays released in one wait: a signal (Ctrl-C) is
/// noticed within this.
const SLICE: Duration = Duration::from_millis(50);

/// While input is still coming, the wait also ends when the channel runs
/// low, so that the Python thread refills it before workers starve; it is
/// checked this often.
const REFILL_CHECK: Duration = Duration::from_millis(2);

/// Records handed to Python per poll, at most.
const MAX_BATCH: usize = 4096;

struct State {
    /// Dropped when the Python iterator is exhausted: the engine's input ends.
    input: Option<Sender<Input>>,
    run: Option<Run>,
    journal: Option<JournalThread>,
    /// Keys of items with an ok record in the journal (resume).
    done: HashSet<u64>,
    task: String,
    finished: bool,
}

/// One run of the engine over items fed from Python. Not for direct use:
/// `procmap.Pool` drives it.
#[pyclass(module = "procmap._native")]
pub(crate) struct NativeRun {
    state: Mutex<State>,
    stop: StopHandle,
}

#[pymethods]
impl NativeRun {
    #[new]
    #[pyo3(signature = (*, program, worker_args, task, procs, chunksize=None, timeout=None, retries=2,
        mem_limit=None, max_tasks_per_child=None, journal=None, append=false, resume=false,
        stop_grace=10.0, handshake_timeout=60.0))]
    #[expect(clippy::too_many_arguments, reason = "Python keyword arguments, one per pool option")]
    fn new(
        program: PathBuf,
        worker_args: Vec<String>,
        task: String,
        procs: usize,
        chunksize: Option<usize>,
        timeout: Option<f64>,
        retries: u32,
        mem_limit: Option<u64>,
        max_tasks_per_child: Option<u64>,
        journal: Option<PathBuf>,
        append: bool,
        resume: bool,
        stop_grace: f64,
        handshake_timeout: f64,
    ) -> PyResult<Self> {
        let done = match (&journal, resume) {
            (Some(path), true) => journal::done_keys(path, &task).map_err(journal_error)?,
            _ => HashSet::new(),
        };
        let journal = match &journal {
            Some(path) => {
                let journal = Journal::open(path, append || resume).map_err(journal_error)?;
                Some(JournalThread::start(journal).map_err(|e| PyPoolError::new_err(e.to_string()))?)
            }
            None => None,
        };
        let pool = Pool::builder(Registry::new())
            .mode(Mode::Process)
            .procs(procs)
            .chunking(chunksize.map_or(Chunking::Auto, Chunking::Fixed))
            .retries(retries)
            .timeout(timeout.map(Duration::from_secs_f64))
            .mem_limit(mem_limit)
            .max_tasks_per_child(max_tasks_per_child)
            .stop_grace(Duration::from_secs_f64(stop_grace.max(0.0)))
            // Python workers import the user's modules (numpy, ...) before
            // they answer, which takes far longer than a Rust worker's start.
            .handshake_timeout(Duration::from_secs_f64(handshake_timeout.max(1.0)))
            .worker_program(program)
            .worker_args(worker_args)
            .build();
        let (tx, rx) = crossbeam_channel::bounded(INPUT_CAP);
        let run = pool.run(rx).map_err(pool_error)?;
        let stop = run.stop_handle();
        let state = State { input: Some(tx), run: Some(run), journal, done, task, finished: false };
        Ok(NativeRun { state: Mutex::new(state), stop })
    }

    /// How many items [`feed`](Self::feed) accepts now without blocking.
    fn room(&self) -> usize {
        let state = self.lock();
        state.input.as_ref().map_or(0, |tx| INPUT_CAP.saturating_sub(tx.len()))
    }

    /// Queues the pickles of consecutive items, the first at `start`.
    /// Returns the indices skipped because the journal has them done
    /// (resume).
    fn feed(&self, py: Python<'_>, start: u64, pickles: Vec<Bound<'_, PyBytes>>) -> PyResult<Vec<u64>> {
        let mut state = self.lock();
        let state = &mut *state;
        let mut skipped = Vec::new();
        let mut inputs = Vec::with_capacity(pickles.len());
        for (index, pickle) in (start..).zip(&pickles) {
            let id = index + 1;
            let payload = BASE64.encode(pickle.as_bytes());
            if !state.done.is_empty() && state.done.contains(&journal::item_key(id, &state.task, &payload)) {
                skipped.push(index);
                continue;
            }
            inputs.push(Input::Job(Job { id, task: state.task.clone(), args: vec![payload] }));
        }
        send(py, state, inputs)?;
        Ok(skipped)
    }

    /// Queues an item that could not be pickled: it becomes an error
    /// record without being sent to a worker.
    fn feed_invalid(&self, py: Python<'_>, index: u64, error: String) -> PyResult<()> {
        let mut state = self.lock();
        let input = Input::Invalid { id: index + 1, task: state.task.clone(), args: Vec::new(), error };
        send(py, &mut state, vec![input])
    }

    /// Ends the input: the run finishes once the queued items are done.
    fn close_input(&self) {
        self.lock().input = None;
    }

    /// Waits up to `timeout` seconds for records and returns them (an empty
    /// list if none came, or the input ran low), or `None` once every record
    /// has been delivered. The GIL is released while waiting.
    fn poll(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Vec<ItemResult>>> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.finished {
            return Ok(None);
        }
        let Some(run) = state.run.as_mut() else { return Ok(None) };
        let input = state.input.clone();
        let mut records = Vec::new();
        let ended = loop {
            let (got, ended) = py.detach(|| wait(run, input.as_ref(), deadline, &mut records));
            if got || ended || Instant::now() >= deadline || input_low(input.as_ref()) {
                break ended;
            }
            py.check_signals()?;
        };
        if ended && records.is_empty() {
            state.finished = true;
            return Ok(None);
        }
        let loads = py.import("pickle")?.getattr("loads")?;
        let results = records.iter().map(|r| Fields::from_record(r).into_result(py, &loads)).collect();
        if let Some(journal) = state.journal.as_mut() {
            py.detach(|| journal.write(records)).map_err(journal_error)?;
        }
        Ok(Some(results))
    }

    /// Asks the run to stop: in-flight jobs may finish (up to the stop grace
    /// period), unless `kill`, which kills the workers at once.
    #[pyo3(signature = (kill=false))]
    fn stop(&self, kill: bool) {
        let level = self.stop.request_stop();
        if kill && level < 2 {
            self.stop.request_stop();
        }
    }

    /// Waits for the engine's threads and workers to end. Raises
    /// `PoolError` if the pool could not run. Returns (workers started,
    /// wall seconds).
    fn finish(&self, py: Python<'_>) -> PyResult<(u32, f64)> {
        let mut state = self.lock();
        state.input = None;
        if let Some(journal) = state.journal.as_mut() {
            py.detach(|| journal.finish()).map_err(journal_error)?;
        }
        let Some(run) = state.run.take() else { return Ok((0, 0.0)) };
        let stats = py.detach(|| run.finish()).map_err(pool_error)?;
        Ok((stats.spawned, stats.wall.as_secs_f64()))
    }
}

impl NativeRun {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn input_low(input: Option<&Sender<Input>>) -> bool {
    input.is_some_and(|tx| tx.len() < INPUT_CAP / 2)
}

/// Waits one slice for records, appending them. Returns whether any came
/// and whether the run has delivered everything.
fn wait(
    run: &mut Run,
    input: Option<&Sender<Input>>,
    deadline: Instant,
    records: &mut Vec<JobRecord>,
) -> (bool, bool) {
    let end = deadline.min(Instant::now() + SLICE);
    loop {
        let now = Instant::now();
        let step = end.saturating_duration_since(now);
        let step = if input.is_some() { step.min(REFILL_CHECK) } else { step };
        match run.next_timeout(step) {
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
                return (true, false);
            }
            Next::Finished => return (false, true),
            Next::Pending => {
                if Instant::now() >= end || input_low(input) {
                    return (false, false);
                }
            }
        }
    }
}

/// Puts inputs on the engine's input channel. Python feeds only what
/// `room` allowed, so this rarely waits; when it does, it waits without the
/// GIL.
fn send(py: Python<'_>, state: &mut State, inputs: Vec<Input>) -> PyResult<()> {
    let Some(tx) = state.input.clone() else {
        return Err(pyo3::exceptions::PyValueError::new_err("the run's input is closed"));
    };
    if !py.detach(|| inputs.into_iter().all(|input| tx.send(input).is_ok())) {
        return Err(PyPoolError::new_err("the pool stopped taking input"));
    }
    Ok(())
}

fn pool_error(e: PoolError) -> PyErr {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    if let PoolError::WorkerStart { stderr, .. } = &e
        && !stderr.is_empty()
    {
        message.push_str("\nthe worker's stderr ends with:\n");
        message.push_str(stderr);
    }
    PyPoolError::new_err(message)
}

fn journal_error(e: JournalError) -> PyErr {
    let source = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
    PyPoolError::new_err(format!("{e}{source}"))
}
