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

/// One item's journal entry as a worker's answer carries it, borrowed from
/// the answer (see [`EntryReader`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Entry<'a> {
    /// The item as its record's `args[0]` (see [`crate::codec`]).
    pub item: &'a str,
    /// The value as JSON text when the function returned, else what went
    /// wrong (summary, mark, traceback).
    pub outcome: Result<&'a str, &'a str>,
    /// The item's own run time.
    pub nanos: u64,
    /// The end of what it wrote to stdout and stderr, when the pool
    /// captures it (`capture="tail"`) and it wrote something.
    pub stdout: Option<&'a str>,
    pub stderr: Option<&'a str>,
}

/// Flags of an entry.
const OK: u8 = 1;
const STDOUT: u8 = 2;
const STDERR: u8 = 4;

/// Writes a chunk's entries, in the worker, straight into the answer's
/// tail: per item its run time (8 bytes, little endian), flags, then the
/// item's text, the value's JSON or the error, and the outputs present,
/// each as a 4-byte length and its bytes. No string is made per item, and
/// the parent reads the entries in place ([`EntryReader`]): on a million tiny
/// items, making and decoding owned entries cost more than the records'
/// own encoding.
#[derive(Default)]
pub(crate) struct EntryWriter {
    bytes: Vec<u8>,
}

impl EntryWriter {
    /// Appends one entry; `item` and `outcome` write their texts into the
    /// buffer they are given, the latter returning whether it wrote a value
    /// (else an error).
    pub(crate) fn push(
        &mut self,
        nanos: u64,
        stdout: Option<&str>,
        stderr: Option<&str>,
        item: impl FnOnce(&mut Vec<u8>),
        outcome: impl FnOnce(&mut Vec<u8>) -> bool,
    ) {
        self.bytes.extend_from_slice(&nanos.to_le_bytes());
        let flags_at = self.bytes.len();
        let flags = if stdout.is_some() { STDOUT } else { 0 } | if stderr.is_some() { STDERR } else { 0 };
        self.bytes.push(flags);
        self.field(|out| {
            item(out);
        });
        if self.field(outcome) {
            self.bytes[flags_at] |= OK;
        }
        for text in [stdout, stderr].into_iter().flatten() {
            self.field(|out| out.extend_from_slice(text.as_bytes()));
        }
    }

    /// A length-prefixed field, written in place by `write`.
    fn field<R>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        let result = write(&mut self.bytes);
        let len = u32::try_from(self.bytes.len() - at - 4).expect("a field is below 4 GiB");
        self.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        result
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The worker's answer for a chunk: the inline tag (see [`answer`]), the
/// pickle's length (8 bytes, little endian), the pickle, then the entries
/// ([`EntryWriter`]) if there is a journal.
pub(crate) fn join(pickle: &[u8], entries: Option<&[u8]>) -> Vec<u8> {
    let tail = entries.unwrap_or_default();
    let mut out = Vec::with_capacity(1 + 8 + pickle.len() + tail.len());
    out.push(INLINE);
    out.extend_from_slice(&(pickle.len() as u64).to_le_bytes());
    out.extend_from_slice(pickle);
    out.extend_from_slice(tail);
    out
}

/// The pickle and the encoded entries (see [`EntryReader`]) of an answer made
/// by [`join`].
pub(crate) fn split(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), String> {
    let (len, rest) = bytes.split_at_checked(8).ok_or("a chunk's answer is shorter than its header")?;
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    let (pickle, tail) = rest.split_at_checked(len).ok_or("a chunk's answer is shorter than its pickle")?;
    Ok((pickle, (!tail.is_empty()).then_some(tail)))
}

/// The entries of an answer's tail, read in place on the journal's thread;
/// an error says how the tail is corrupt (our own worker's encoding: a
/// bug).
pub(crate) struct EntryReader<'a> {
    rest: &'a [u8],
}

impl<'a> EntryReader<'a> {
    pub(crate) fn new(tail: &'a [u8]) -> Self {
        EntryReader { rest: tail }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (taken, rest) = self.rest.split_at_checked(n).ok_or("a journal entry is cut short")?;
        self.rest = rest;
        Ok(taken)
    }

    fn text(&mut self) -> Result<&'a str, String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        std::str::from_utf8(self.take(len as usize)?)
            .map_err(|e| format!("a journal entry is not UTF-8: {e}"))
    }

    fn entry(&mut self) -> Result<Entry<'a>, String> {
        let nanos = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        let flags = self.take(1)?[0];
        let item = self.text()?;
        let text = self.text()?;
        let outcome = if flags & OK != 0 { Ok(text) } else { Err(text) };
        let stdout = if flags & STDOUT != 0 { Some(self.text()?) } else { None };
        let stderr = if flags & STDERR != 0 { Some(self.text()?) } else { None };
        Ok(Entry { item, outcome, nanos, stdout, stderr })
    }
}

impl<'a> Iterator for EntryReader<'a> {
    type Item = Result<Entry<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let entry = self.entry();
        if entry.is_err() {
            self.rest = &[];
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written() {
        let mut writer = EntryWriter::default();
        writer.push(
            5,
            None,
            None,
            |out| out.extend_from_slice(b"12"),
            |out| {
                out.extend_from_slice(b"144");
                true
            },
        );
        writer.push(
            u64::MAX,
            Some("printed é"),
            Some(""),
            |out| out.extend_from_slice(b"\"x\""),
            |out| {
                out.extend_from_slice(b"ValueError: no");
                false
            },
        );
        writer.push(0, None, Some("err"), |_| {}, |_| true);
        let bytes = writer.into_bytes();
        let entries: Vec<_> = EntryReader::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            entries,
            [
                Entry { item: "12", outcome: Ok("144"), nanos: 5, stdout: None, stderr: None },
                Entry {
                    item: "\"x\"",
                    outcome: Err("ValueError: no"),
                    nanos: u64::MAX,
                    stdout: Some("printed é"),
                    stderr: Some("")
                },
                Entry { item: "", outcome: Ok(""), nanos: 0, stdout: None, stderr: Some("err") },
            ]
        );
        let joined = join(b"pickle", Some(&bytes));
        let (pickle, tail) = split(&joined[1..]).unwrap();
        assert_eq!((pickle, tail), (&b"pickle"[..], Some(&bytes[..])));
        assert_eq!(split(&join(b"pickle", None)[1..]).unwrap(), (&b"pickle"[..], None));
    }

    #[test]
    fn a_cut_or_garbled_tail_is_an_error_once() {
        let mut writer = EntryWriter::default();
        writer.push(5, Some("out"), None, |out| out.extend_from_slice(b"12"), |_| true);
        let bytes = writer.into_bytes();
        for cut in 1..bytes.len() {
            let read: Vec<_> = EntryReader::new(&bytes[..cut]).collect();
            assert_eq!(read.len(), 1, "cut at {cut}");
            assert!(read[0].is_err(), "cut at {cut}");
        }
        let mut garbled = bytes.clone();
        garbled[13] = 0xff;
        assert!(EntryReader::new(&garbled).next().unwrap().unwrap_err().contains("UTF-8"));
    }
}
