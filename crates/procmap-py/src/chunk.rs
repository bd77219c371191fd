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
use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Payloads and answers above this size travel through a file in the pool's
/// directory (on /dev/shm where it exists), the message carrying its path:
/// an ipc-channel message bigger than a socket's buffer is sent in
/// fragments, and a send of those blocks for good if the worker dies before
/// it reads them (the dispatcher would hang). Below it, with the engine's
/// per-worker cap on bytes in flight, every message fits the buffer.
pub(crate) const INLINE_BYTES: usize = 64 << 10;

/// The first byte of a message that names a file. A pickle starts with
/// 0x80; an inline answer with [`INLINE`].
const FILE: u8 = b'F';
const INLINE: u8 = b'I';

/// Writes `bytes` to a new file in `dir` and returns the message naming it.
pub(crate) fn spill(dir: &Path, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let name = format!("{}-{}.spill", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    let mut message = vec![FILE];
    message.extend_from_slice(path.as_os_str().as_bytes());
    Ok(message)
}

/// The bytes a message stands for: read (and the file removed) if it names
/// a file, else the message itself, less an answer's tag.
pub(crate) fn unspill(message: &[u8]) -> std::io::Result<Cow<'_, [u8]>> {
    match message.split_first() {
        Some((&FILE, path)) => {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            let bytes = std::fs::read(path)?;
            let _ = std::fs::remove_file(path);
            Ok(Cow::Owned(bytes))
        }
        Some((&INLINE, rest)) => Ok(Cow::Borrowed(rest)),
        _ => Ok(Cow::Borrowed(message)),
    }
}

/// A worker's answer as it travels: inline with its tag, or spilled.
/// `joined` is [`join`]'s, which starts with the inline tag already, so
/// that an answer that fits a message is not copied again.
pub(crate) fn answer(dir: Option<&Path>, joined: Vec<u8>) -> std::io::Result<Vec<u8>> {
    match dir {
        Some(dir) if joined.len() > INLINE_BYTES => spill(dir, &joined[1..]),
        _ => Ok(joined),
    }
}

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
    /// The end of what it wrote to stdout and stderr, when the pool
    /// captures it (`capture="tail"`) and it wrote something.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

/// The worker's answer for a chunk: the inline tag (see [`answer`]), the
/// pickle's length (8 bytes, little endian), the pickle, then the entries
/// (bincode) if there is a journal.
pub(crate) fn join(pickle: &[u8], entries: Option<&[Entry]>) -> Result<Vec<u8>, String> {
    let tail = match entries {
        Some(entries) => {
            procmap::wire::encode(&entries).map_err(|e| format!("cannot encode journal entries: {e}"))?
        }
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(1 + 8 + pickle.len() + tail.len());
    out.push(INLINE);
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
