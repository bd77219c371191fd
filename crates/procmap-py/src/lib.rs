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
//! An item crosses as its record's text: its JSON when it round-trips
//! exactly, else `pickle:` and the base64 of its pickle; a return value as
//! JSON, or `{"$pickle": ...}` (see [`codec`]). The journal is the command
//! line's, written and read through procmap-batch: this crate has no
//! journal format of its own.

use pyo3::prelude::*;

mod codec;
mod error;
mod read;
mod result;
mod run;
mod serve;

use error::PoolError;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<run::NativeRun>()?;
    m.add_class::<result::ItemResult>()?;
    m.add_function(wrap_pyfunction!(read::read_journal, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_journal_lines, m)?)?;
    m.add_function(wrap_pyfunction!(read::recall, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve_tasks, m)?)?;
    m.add("PoolError", m.py().get_type::<PoolError>())?;
    Ok(())
}
