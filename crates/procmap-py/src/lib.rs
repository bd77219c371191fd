//! The extension behind the `procmap` Python package (`procmap._native`).
//!
//! It reuses the engine, it does not reimplement it. In the user's Python
//! process, [`pool::NativePool`] runs a [`procmap::Pool`] whose dispatcher
//! and helper threads are Rust threads that never touch the GIL, for as
//! long as the Python pool lives. Python pickles each chunk of items once
//! and submits the bytes as one engine job; its collector thread polls for
//! finished chunks in short, GIL-free slices. The workers are Python
//! processes (`python -m procmap._worker SPEC`) that call [`serve::serve`]:
//! the engine's worker runtime with one task that runs a chunk
//! ([`chunk`]), marking the item it runs in shared memory ([`marker`]) so
//! that a crash is pinned on one item.
//!
//! In a journal, an item is its record's text: its JSON when it
//! round-trips exactly, else `pickle:` and the base64 of its pickle; a
//! return value is JSON, or `{"$pickle": ...}` (see [`codec`]). Workers
//! encode these only when there is a journal. The journal is the command
//! line's, written and read through procmap-batch ([`journal`]): this crate
//! has no journal format of its own.

use pyo3::prelude::*;

mod chunk;
mod codec;
mod error;
mod halt;
mod journal;
mod marker;
mod pool;
mod rate;
mod read;
mod result;
mod serve;

use error::PoolError;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<pool::NativePool>()?;
    m.add_class::<journal::NativeJournal>()?;
    m.add_class::<journal::Entries>()?;
    m.add_class::<result::ItemResult>()?;
    m.add_class::<rate::RecentRate>()?;
    m.add_class::<halt::NativeHalt>()?;
    m.add_function(wrap_pyfunction!(result::make_result, m)?)?;
    m.add_function(wrap_pyfunction!(read::report, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_journal, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_journal_lines, m)?)?;
    m.add_function(wrap_pyfunction!(read::recall, m)?)?;
    m.add_class::<read::JournalIndex>()?;
    m.add_class::<marker::MarksDir>()?;
    m.add_function(wrap_pyfunction!(pool::prepare_capture, m)?)?;
    m.add_function(wrap_pyfunction!(pool::capture_impossible, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve_tasks, m)?)?;
    m.add("PoolError", m.py().get_type::<PoolError>())?;
    m.add("MAX_PAYLOAD_BYTES", procmap::wire::MAX_PAYLOAD_BYTES)?;
    m.add("SERVER_ENV", procmap::wire::SERVER_ENV)?;
    m.add("MARKER_ENV", procmap::marker::ENV)?;
    m.add("MAX_THREADS", procmap::auto::MAX_THREADS)?;
    Ok(())
}
