//! The extension behind the `procmap` Python package (`procmap._native`).
//!
//! It reuses the engine, it does not reimplement it. In the user's Python
//! process, [`run::NativeRun`] starts a [`procmap::Pool`] whose dispatcher and
//! helper threads are Rust threads that never touch the GIL; the Python
//! thread feeds it pickled items through a bounded channel and polls it for
//! records in short, GIL-free slices. The workers are Python processes
//! (`python -m procmap._worker SPEC`) that call [`serve::serve`]: the
//! engine's worker runtime with one task that calls the user's function.
//!
//! Items and return values cross as base64 text of their pickles, because a
//! job's arguments and a task's output are strings on the wire; the journal
//! is the engine's JSON Lines record, written here (see [`journal`]).

use pyo3::prelude::*;

mod journal;
mod result;
mod run;
mod serve;

pyo3::create_exception!(
    procmap,
    PoolError,
    pyo3::exceptions::PyRuntimeError,
    "The pool itself could not run: workers failed to start, or a journal could not be written. \
     A failing item is never a PoolError; it is that item's result."
);

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<run::NativeRun>()?;
    m.add_class::<result::ItemResult>()?;
    m.add_function(wrap_pyfunction!(result::result_from_record, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve_tasks, m)?)?;
    m.add("PoolError", m.py().get_type::<PoolError>())?;
    Ok(())
}
