//! The supervisor side: one engine run driven by the Python thread.
//!
//! The Python thread owns the user's iterator, so it is the one that pulls
//! and pickles items; it hands them to [`NativeRun::feed`], which puts them
//! on a bounded channel that the engine's input thread reads. Memory stays
//! flat whatever the input's length: the Python side only feeds as many
//! items as [`NativeRun::room`] says fit. [`NativeRun::poll`] waits for
//! records with the GIL released, in slices, checking for signals between
//! them, and hands each batch of records to the journal's writer thread.
//!
//! The journal is procmap-batch's, as the command line's is: locked (a
//! second writer is refused), its torn tail cut before a run appends, a
//! header starting each run's segment; a resume decides each item with
//! [`Resume::admit`] by the item's identity (the function's name and the
//! item's text, see [`crate::codec`]), in input order, and writes the
//! occurrence it learns into the item's record.

use crate::codec::{self, Pickler};
use crate::error::PoolError as PyPoolError;
use crate::read::chain;
use crate::result::{ItemResult, from_record};
use crossbeam_channel::Sender;
use procmap::wire::Job;
use procmap::{Chunking, Input, JobRecord, Mode, Next, Pool, PoolError, Registry, Run, StopHandle};
use procmap_batch::identity::job_hash;
use procmap_batch::journal::{Header, Journal};
use procmap_batch::resume::{Decision, OpenError, Repeats, Resume};
use procmap_batch::writer::JournalWriter;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
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
    journal: Option<JournalWriter>,
    /// The journal's path, for messages.
    journal_path: Option<PathBuf>,
    /// What a resumed run skips.
    resume: Option<Resume>,
    /// Occurrences above 0 by line, learnt by a resume, for the records of
    /// repeated items (see procmap_batch::occurrence).
    repeats: Repeats,
    task: String,
    pickler: &'static Pickler,
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
        py: Python<'_>,
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
        let pickler = codec::pickler(py)?;
        let (writer, resume) = match &journal {
            Some(path) => {
                let (writer, resume) = open_journal(path, append, resume)?;
                (Some(writer), resume)
            }
            None => (None, None),
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
        let repeats = resume.as_ref().map_or_else(Repeats::default, Resume::repeats);
        let state = State {
            input: Some(tx),
            run: Some(run),
            journal: writer,
            journal_path: journal,
            resume,
            repeats,
            task,
            pickler,
            finished: false,
        };
        Ok(NativeRun { state: Mutex::new(state), stop })
    }

    /// How many items [`feed`](Self::feed) accepts now without blocking.
    fn room(&self) -> usize {
        let state = self.lock();
        state.input.as_ref().map_or(0, |tx| INPUT_CAP.saturating_sub(tx.len()))
    }

    /// Queues consecutive items, the first at index `start`. Returns the
    /// items skipped because the journal has them done (resume), as
    /// `(index, hash, occurrence)`, and the indices of the items that could
    /// not be pickled (each becomes an error record without reaching a
    /// worker).
    #[expect(clippy::type_complexity, reason = "a Python tuple of two lists")]
    fn feed(
        &self,
        py: Python<'_>,
        start: u64,
        items: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<(Vec<(u64, u64, u32)>, Vec<u64>)> {
        let mut state = self.lock();
        let state = &mut *state;
        let (mut skipped, mut invalid) = (Vec::new(), Vec::new());
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in (start..).zip(&items) {
            let id = index + 1;
            let (args, error) = match state.pickler.item_text(item) {
                Ok(text) => (vec![text], None),
                Err(e) => (Vec::new(), Some(format!("cannot pickle the item: {}", e.value(py)))),
            };
            if let Some(resume) = state.resume.as_mut() {
                let hash = job_hash(&state.task, &args);
                let admission = resume.admit(hash, id);
                if admission.decision != Decision::Run {
                    skipped.push((index, hash, admission.occurrence.unwrap_or(0)));
                    continue;
                }
            }
            let task = state.task.clone();
            inputs.push(match error {
                None => Input::Job(Job { id, task, args }),
                Some(error) => {
                    invalid.push(index);
                    Input::Invalid { id, task, args, error }
                }
            });
        }
        send(py, state, inputs)?;
        Ok((skipped, invalid))
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
        let results =
            records.iter().map(|r| from_record(py, state.pickler, r, r.line.saturating_sub(1))).collect();
        if let Some(journal) = state.journal.as_mut() {
            let repeats = &state.repeats;
            let batch = records
                .into_iter()
                .map(|r| {
                    let occurrence = repeats.take(r.line);
                    (r, occurrence)
                })
                .collect();
            let path = state.journal_path.as_deref().unwrap_or(Path::new("?"));
            py.detach(|| journal.write(batch)).map_err(|e| write_error(path, &e))?;
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
        let mut guard = self.lock();
        let state = &mut *guard;
        state.input = None;
        if let Some(journal) = state.journal.as_mut() {
            let path = state.journal_path.as_deref().unwrap_or(Path::new("?"));
            py.detach(|| journal.finish()).map_err(|e| write_error(path, &e))?;
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
    let mut message = chain(&e);
    if let PoolError::WorkerStart { stderr, .. } = &e
        && !stderr.is_empty()
    {
        message.push_str("\nthe worker's stderr ends with:\n");
        message.push_str(stderr);
    }
    PyPoolError::new_err(message)
}

/// Opens the journal at `path` as the command line does: locked (and its
/// torn tail cut, when appending) before it is read for a resume.
fn open_journal(path: &Path, append: bool, resume: bool) -> PyResult<(JournalWriter, Option<Resume>)> {
    let header = Header::new("procmap-python");
    let locked = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::ResourceBusy {
            PyPoolError::new_err(format!(
                "journal {} is locked: another writer holds it (another run of a Pool, in this process or another, is writing it)",
                path.display()
            ))
        } else {
            PyPoolError::new_err(format!("cannot open journal {}: {e}", path.display()))
        }
    };
    let (journal, resume) = if resume {
        // Items whose latest record failed run again: only ok ones are done.
        let (journal, resume) = procmap_batch::resume::open(path, &header, true).map_err(|e| match e {
            OpenError::Write(e) => locked(e),
            OpenError::Read(e) => {
                PyPoolError::new_err(format!("cannot read journal {}: {}", path.display(), chain(&e)))
            }
        })?;
        (journal, Some(resume))
    } else {
        (Journal::file(path, append, &header).map_err(locked)?, None)
    };
    let writer = JournalWriter::start(journal).map_err(|e| PyPoolError::new_err(e.to_string()))?;
    Ok((writer, resume))
}

fn write_error(path: &Path, e: &std::io::Error) -> PyErr {
    PyPoolError::new_err(format!("cannot write journal {}: {e}", path.display()))
}
