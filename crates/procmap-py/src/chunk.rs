//! A chunk of items as one engine job: what the worker sends back for it.
//!
//! The parent pickles a chunk's items together (one `pickle.dumps` of a
//! tuple, see `procmap._calls`) and sends the bytes as the job's payload;
//! the worker calls the function on each item ([`crate::serve`]) and
//! answers with one pickle of `(values, errors)` and, when the run has a
//! journal, each item's journal entry, already encoded by the worker so
//! that the parent only writes text. Both ends are this crate, in the
//! parent and in the worker, so the format needs no version of its own: the
//! engine's handshake already refuses a worker of another build.

use serde::{Deserialize, Serialize};

/// One item's record text, made in the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The item as its record's `args[0]` (see [`crate::codec`]).
    pub item: String,
    /// The value as JSON text, when the function returned.
    pub value: Option<String>,
    /// What went wrong, when it did not (summary, mark, traceback).
    pub error: Option<String>,
    /// The item's own run time.
    pub nanos: u64,
}

/// The worker's answer for a chunk: the pickle's length (8 bytes, little
/// endian), the pickle, then the entries (bincode) if there is a journal.
pub(crate) fn join(pickle: &[u8], entries: Option<&[Entry]>) -> Result<Vec<u8>, String> {
    let tail = match entries {
        Some(entries) => {
            procmap::wire::encode(&entries).map_err(|e| format!("cannot encode journal entries: {e}"))?
        }
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(8 + pickle.len() + tail.len());
    out.extend_from_slice(&(pickle.len() as u64).to_le_bytes());
    out.extend_from_slice(pickle);
    out.extend_from_slice(&tail);
    Ok(out)
}

/// The pickle and the encoded entries (see [`entries`]) of an answer made
/// by [`join`].
pub(crate) fn split(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), String> {
    let (len, rest) = bytes.split_at_checked(8).ok_or("a chunk's answer is shorter than its header")?;
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    let (pickle, tail) = rest.split_at_checked(len).ok_or("a chunk's answer is shorter than its pickle")?;
    Ok((pickle, (!tail.is_empty()).then_some(tail)))
}

/// The entries of an answer's tail, decoded on the journal's thread.
pub(crate) fn entries(tail: &[u8]) -> Result<Vec<Entry>, String> {
    procmap::wire::decode(tail).map_err(|e| format!("cannot decode journal entries: {e}"))
}
