//! The worker side: a Python process serving the engine's protocol, with
//! one task that runs a pool's chunks ([`serve`]) or with the
//! `@procmap.task` functions of a file for the command line
//! ([`serve_tasks`]).

use crate::codec::Pickler;
use crate::marker::{Marker, Slot};
use procmap::{JobError, Registry, RunContext, Task};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::PathBuf;
use std::time::Instant;

/// The user's exception as a job error, via `procmap._worker.describe`.
fn describe(describe: &Py<PyAny>, py: Python<'_>, error: PyErr) -> JobError {
    // Before Python 3.12 a fetched exception does not carry its traceback:
    // pass it along.
    let traceback = error.traceback(py);
    let text = describe.bind(py).call1((error.value(py), traceback)).and_then(|t| t.extract::<String>());
    JobError::new(text.unwrap_or_else(|_| error.to_string()))
}

/// The name of the one task a pool's worker serves: chunks of items, each
/// chunk carrying its function.
pub(crate) const CHUNK_TASK: &str = "procmap.chunk";

/// Flushes Python's `sys.stdout` and `sys.stderr`, whatever they are now,
/// so that what a function printed reaches the captured pipes before its
/// item ends (stdout on a pipe is block-buffered). A stream that cannot
/// flush (closed, replaced by None) is left alone. The `sys` module is
/// looked up once (an import per item cost a third of a tiny item).
fn flush_python(py: Python<'_>) {
    static SYS: pyo3::sync::PyOnceLock<Py<pyo3::types::PyModule>> = pyo3::sync::PyOnceLock::new();
    let Ok(sys) = SYS.get_or_try_init(py, || py.import("sys").map(Bound::unbind)) else { return };
    let sys = sys.bind(py);
    for name in [pyo3::intern!(py, "stdout"), pyo3::intern!(py, "stderr")] {
        if let Ok(stream) = sys.getattr(name)
            && !stream.is_none()
        {
            let _ = stream.call_method0(pyo3::intern!(py, "flush"));
        }
    }
}

/// Runs a chunk of items (a job's payload, see [`crate::chunk`]): the
/// payload is the pickle of `(job, kind, function, items, journal,
/// indices)`, where
/// `kind` says how an item is passed: 0 `function(item)`, 1
/// `function(*item)`; 2 `item[0](*item[1], **item[2])` (each item brings its
/// own function: `submit` and `apply_async`), and `indices` are the items'
/// positions in their call, which name their files under
/// `capture="files=DIR"` (None otherwise). The loop is here rather than in
/// Python: on small items the wrapper's own bytecode would cost more than
/// the item. Each item's output is captured on its own (see
/// `procmap::worker::capture`), and its tail, if any, is answered with
/// its value.
struct ChunkTask {
    pickler: Pickler,
    /// `procmap._worker.describe`: an exception as summary and traceback.
    describe: Py<PyAny>,
    marker: Option<Marker>,
    /// Where answers too big for a message go (the pool's directory).
    spill_dir: Option<PathBuf>,
}

impl Task for ChunkTask {
    fn name(&self) -> &str {
        CHUNK_TASK
    }

    fn usage(&self) -> &str {
        "(payload)"
    }

    fn about(&self) -> &str {
        "a chunk of a Python pool's items"
    }

    fn captures_output(&self) -> bool {
        true
    }

    fn run(&self, _: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
        Err(JobError::new("a Python pool's chunk travels as a payload"))
    }

    fn run_payload(&self, payload: &[u8], args: &[String], _: &RunContext) -> Result<Vec<u8>, JobError> {
        // Before anything else: a death from now on may be this chunk's
        // (its first argument is its job; see crate::marker).
        let job = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
        let slot = self.marker.as_ref().map(|m| m.enter(job));
        let payload = crate::chunk::unspill(payload)
            .map_err(|e| JobError::new(format!("cannot read the chunk's file in the worker: {e}")))?;
        let answer = Python::attach(|py| {
            self.run_chunk(py, &payload, slot.as_ref()).map_err(|e| JobError::new(e.to_string()))
        })?;
        if answer.len() > procmap::wire::MAX_PAYLOAD_BYTES {
            return Err(JobError::new(format!(
                "the values pickle to {} bytes; at most {} can be sent back",
                answer.len(),
                procmap::wire::MAX_PAYLOAD_BYTES
            )));
        }
        crate::chunk::answer(self.spill_dir.as_deref(), answer)
            .map_err(|e| JobError::new(format!("cannot write the chunk's answer to a file: {e}")))
    }
}

impl ChunkTask {
    fn run_chunk(&self, py: Python<'_>, payload: &[u8], slot: Option<&Slot<'_>>) -> PyResult<Vec<u8>> {
        let chunk = self.pickler.loads(py, payload)?;
        type Chunk<'py> = (u64, u8, Bound<'py, PyAny>, Bound<'py, PyList>, bool, Option<Vec<u64>>);
        let (job, kind, function, items, journal, indices): Chunk<'_> = chunk.extract()?;
        let values = PyList::empty(py);
        let errors = PyList::empty(py);
        let times = PyList::empty(py);
        let outputs = PyList::empty(py);
        let capture = procmap::worker::capture::current();
        // What each item's journal entry needs beyond its item and value,
        // kept until the answer is known to pickle.
        let mut runs: Vec<Run> = Vec::with_capacity(if journal { items.len() } else { 0 });
        for (index, item) in items.iter().enumerate() {
            if let Some(slot) = slot {
                slot.item(job, index);
            }
            if let Some(capture) = capture {
                capture.begin(indices.as_ref().and_then(|i| i.get(index).copied()).unwrap_or(index as u64));
            }
            let start = Instant::now();
            let called = match kind {
                0 => function.call1((&item,)),
                1 => item.cast::<PyTuple>().map_err(PyErr::from).and_then(|args| function.call1(args)),
                _ => item
                    .extract::<(Bound<'_, PyAny>, Bound<'_, PyTuple>, Bound<'_, PyDict>)>()
                    .and_then(|(function, args, kwargs)| function.call(args, Some(&kwargs))),
            };
            let nanos = start.elapsed().as_nanos() as u64;
            let (stdout, stderr) = match capture {
                Some(capture) => {
                    flush_python(py);
                    procmap::captured_text(&capture.end())
                }
                None => (None, None),
            };
            if stdout.is_some() || stderr.is_some() {
                outputs.append((index, &stdout, &stderr))?;
            }
            let (value, error) = match called {
                Ok(value) => (value, None),
                Err(e) => {
                    let text = describe(&self.describe, py, e.clone_ref(py)).message().to_owned();
                    let exception = self.pickler.dumps(e.value(py).as_any()).ok();
                    errors.append((index, exception, &text))?;
                    (py.None().into_bound(py), Some(text))
                }
            };
            values.append(value)?;
            times.append(nanos)?;
            if journal {
                runs.push(Run { nanos, error, stdout, stderr });
            }
        }
        if let Some(slot) = slot {
            slot.between(job);
        }
        let answer = |py| (&values, &errors, &times, &outputs).into_pyobject(py).map(Bound::into_any);
        let pickled = match self.pickler.dumps(&answer(py)?) {
            Ok(bytes) => bytes,
            Err(_) => {
                self.unpicklable_to_errors(py, &values, &errors, &mut runs)?;
                self.pickler.dumps(&answer(py)?)?
            }
        };
        let entries = journal.then(|| self.entries(kind, &items, &values, &runs)).transpose()?;
        Ok(crate::chunk::join(pickled.as_bytes(), entries.as_deref()))
    }

    /// The journal entries of a chunk that ran: each item's text and its
    /// value's JSON (or its error), written in place. A `submit` call's
    /// item is its `(args, kwargs)`: its function is its record's task.
    fn entries(
        &self,
        kind: u8,
        items: &Bound<'_, PyList>,
        values: &Bound<'_, PyList>,
        runs: &[Run],
    ) -> PyResult<Vec<u8>> {
        let mut entries = crate::chunk::EntryWriter::default();
        for ((item, value), run) in items.iter().zip(values.iter()).zip(runs) {
            let item = match kind {
                0 | 1 => item,
                _ => item.cast::<PyTuple>()?.get_slice(1, 3).into_any(),
            };
            entries.push(
                run.nanos,
                run.stdout.as_deref(),
                run.stderr.as_deref(),
                |out| {
                    if let Err(e) = self.pickler.write_item_text(&item, out) {
                        out.extend_from_slice(format!("<cannot pickle the item: {e}>").as_bytes());
                    }
                },
                |out| match &run.error {
                    Some(error) => {
                        out.extend_from_slice(error.as_bytes());
                        false
                    }
                    None => match self.pickler.write_value_json(&value, out) {
                        Ok(()) => true,
                        Err(e) => {
                            out.extend_from_slice(format!("cannot pickle the return value: {e}").as_bytes());
                            false
                        }
                    },
                },
            );
        }
        Ok(entries.into_bytes())
    }

    /// When some value would not pickle: each such value becomes that
    /// item's error.
    fn unpicklable_to_errors(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyList>,
        errors: &Bound<'_, PyList>,
        runs: &mut [Run],
    ) -> PyResult<()> {
        for (index, value) in values.iter().enumerate() {
            if let Err(e) = self.pickler.dumps(&value) {
                let text = format!("cannot pickle the return value: {}", e.value(py));
                // The pickling error itself (a TypeError or PicklingError)
                // is what the caller gets, as with the stdlib's pools.
                let exception = self.pickler.dumps(e.value(py).as_any()).ok();
                errors.append((index, exception, &text))?;
                values.set_item(index, py.None())?;
                if let Some(run) = runs.get_mut(index) {
                    run.error = Some(text);
                }
            }
        }
        Ok(())
    }
}

/// What a journal entry needs of one item's run, beside the item and its
/// value.
struct Run {
    nanos: u64,
    /// What went wrong, when it did not return a value.
    error: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
}

/// Serves a pool's chunks until the supervisor says stop or goes away. The
/// GIL is released while the engine waits for chunks; each chunk takes it
/// back. `marks` is the pool's directory for [`Marker`]s.
#[pyfunction]
#[pyo3(signature = (describe, marks=None))]
pub(crate) fn serve(py: Python<'_>, describe: Py<PyAny>, marks: Option<PathBuf>) -> PyResult<()> {
    let pickler = Pickler::new(py)?;
    let spill_dir = marks.clone();
    let marker = match marks {
        Some(dir) => Some(Marker::create(&dir).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "procmap worker: cannot map its marker in {}: {e}",
                dir.display()
            ))
        })?),
        None => None,
    };
    let mut registry = Registry::new();
    registry.register(ChunkTask { pickler, describe, marker, spill_dir });
    py.detach(|| procmap::worker::serve(registry))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("procmap worker: {e}")))
}

/// A `@procmap.task` function for the command line: a job line's words are
/// its arguments, and its return value, as JSON, is the record's value.
struct LineTask {
    name: String,
    usage: String,
    about: String,
    function: Py<PyAny>,
    /// `procmap._tasks.to_json`.
    to_json: Py<PyAny>,
    describe: Py<PyAny>,
}

impl Task for LineTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn usage(&self) -> &str {
        &self.usage
    }

    fn about(&self) -> &str {
        &self.about
    }

    fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
        Python::attach(|py| {
            let args = pyo3::types::PyTuple::new(py, args).map_err(|e| JobError::new(e.to_string()))?;
            let called = self.function.bind(py).call1(args);
            // The worker takes the job's output when it returns: what
            // print() buffered must be in the pipe by then.
            if procmap::worker::capture::current().is_some() {
                flush_python(py);
            }
            let value = called.map_err(|e| describe(&self.describe, py, e))?;
            let text = self
                .to_json
                .bind(py)
                .call1((value,))
                .and_then(|t| t.extract::<String>())
                .map_err(|e| JobError::new(format!("the return value is not JSON-serializable: {e}")))?;
            serde_json::from_str(&text)
                .map_err(|e| JobError::new(format!("the return value's JSON is invalid: {e}")))
        })
    }
}

/// Serves the tasks `(name, usage, about, function)` of a Python file for
/// `supervisor --worker`.
#[pyfunction]
pub(crate) fn serve_tasks(
    py: Python<'_>,
    tasks: Vec<(String, String, String, Py<PyAny>)>,
    to_json: Py<PyAny>,
    describe: Py<PyAny>,
) -> PyResult<()> {
    let mut registry = Registry::new();
    for (name, usage, about, function) in tasks {
        let (to_json, describe) = (to_json.clone_ref(py), describe.clone_ref(py));
        registry.register(LineTask { name, usage, about, function, to_json, describe });
    }
    py.detach(|| procmap::worker::serve(registry))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("procmap worker: {e}")))
}
