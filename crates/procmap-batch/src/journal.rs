//! The JSON Lines journal: written as results arrive, read back to resume.
//!
//! Every run that writes a journal starts its part of it (its segment) with
//! a [`Header`] line, `{"journal":2,...}`, then appends one record per
//! finished job (see [`crate::encode`] and `docs/architecture.md`, "The
//! journal"). Records are flushed at least every [`FLUSH_EVERY`], so a
//! writer killed outright loses at most that much. A torn last line (the
//! writer died mid-write) is skipped by readers and cut off before a
//! resumed run appends. One writer at a time: the file is locked.

pub use crate::encode::{Fields, Millis, encode_fields, encode_record};
use procmap::JobRecord;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The journal format this version writes, and the newest it reads.
/// Format 1 (no header lines) is still read.
pub const FORMAT: u32 = 2;

/// The first line of each run's segment of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format, [`FORMAT`]: the key that tells a header from a record.
    pub journal: u32,
    /// What wrote the segment, e.g. `supervisor 0.1.0`.
    pub writer: String,
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix: f64,
    pub host: String,
    pub pid: u32,
    /// How the run chose where jobs run, when it chose: `auto` for
    /// `--mode auto`, whose decisions follow as lines of their own (see
    /// [`crate::auto_line`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl Header {
    /// The header of a run starting now, written by `writer`.
    pub fn new(writer: &str) -> Header {
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| (d.as_millis() as f64) / 1e3);
        Header {
            journal: FORMAT,
            writer: format!("{writer} {}", env!("CARGO_PKG_VERSION")),
            started_unix,
            host: hostname(),
            pid: std::process::id(),
            mode: None,
        }
    }

    /// The header of an auto run (`--mode auto`).
    pub fn auto(mut self) -> Header {
        self.mode = Some("auto".into());
        self
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let status = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if status != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One line of a journal, as readers see it.
#[derive(Debug)]
pub enum Line<T> {
    /// A run's header: a new segment starts.
    Header,
    Record(T),
    /// A decision of `--mode auto` ([`crate::auto_line`]): neither a record
    /// nor the start of a segment.
    Auto,
    /// Not a record: a torn last line, or text that is not ours.
    Unreadable,
}

/// A journal whose header names a format this version cannot read.
#[derive(Debug, thiserror::Error)]
#[error(
    "the journal was written in format {found} by a newer procmap; this version reads formats 1 to {FORMAT}"
)]
pub struct NewerFormat {
    pub found: u32,
}

/// One line of a journal, as [`for_each_line`] hands it over.
pub struct RawLine<'a> {
    /// Where the line starts in the file.
    pub offset: u64,
    /// Its length in the file, newline included.
    pub len: usize,
    /// The line without surrounding whitespace and newline.
    pub text: &'a [u8],
}

/// Reads a journal line by line: the one loop of every reader (a resume,
/// the ledger, the Python package). Blank lines are skipped; `f` gets each
/// other line with where it sits, and says what it is with [`parse_line`].
pub fn for_each_line<E: From<io::Error>>(
    file: impl io::Read,
    mut f: impl FnMut(RawLine<'_>) -> Result<(), E>,
) -> Result<(), E> {
    use io::BufRead as _;
    let mut reader = io::BufReader::with_capacity(256 * 1024, file);
    let mut buf = Vec::with_capacity(512);
    let mut offset = 0u64;
    loop {
        buf.clear();
        let len = reader.read_until(b'\n', &mut buf)?;
        if len == 0 {
            return Ok(());
        }
        let text = buf.trim_ascii();
        if !text.is_empty() {
            f(RawLine { offset, len, text })?;
        }
        offset += len as u64;
    }
}

/// Reads one line of a journal (without its newline).
pub fn parse_line<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<Line<T>, NewerFormat> {
    #[derive(Deserialize)]
    struct Format {
        journal: u32,
    }
    // Records start with `{"line":`; only a header has a "journal" key.
    if bytes.starts_with(b"{\"journal\":") {
        return match serde_json::from_slice::<Format>(bytes) {
            Ok(f) if f.journal > FORMAT => Err(NewerFormat { found: f.journal }),
            Ok(_) => Ok(Line::Header),
            Err(_) => Ok(Line::Unreadable),
        };
    }
    if bytes.starts_with(crate::auto_line::PREFIX) {
        return Ok(Line::Auto);
    }
    Ok(serde_json::from_slice(bytes).map_or(Line::Unreadable, Line::Record))
}

/// How many bytes of encoded records are held before they are written.
const BUFFER_BYTES: usize = 64 * 1024;

pub struct Journal {
    out: Box<dyn Write + Send>,
    /// Records encoded but not yet written: whole lines only, encoded in
    /// place (no copy into a second buffer), written once they pass
    /// [`BUFFER_BYTES`] and at every flush.
    pending: Vec<u8>,
    last_flush: Duration,
    /// How late [`coarse_now`] may be: a flush is due this much before
    /// FLUSH_EVERY has passed by it.
    coarse_slack: Duration,
    /// The size of the torn last line removed on opening, if any.
    pub repaired_bytes: u64,
}

impl Journal {
    /// A journal on a stream that is not a file of its own (standard
    /// output), starting with `header`: nothing to lock or repair.
    pub fn stream(out: Box<dyn Write + Send>, header: &Header) -> Self {
        let mut journal = Self::new(out);
        journal.begin(header);
        journal
    }

    /// Opens `path` for appending (resume) or truncates it, after taking
    /// an exclusive lock on it for as long as the journal is open: two runs
    /// resuming one journal at once would both run every pending job. The
    /// run's segment starts with `header`.
    pub fn file(path: &Path, append: bool, header: &Header) -> io::Result<Self> {
        let mut journal = Self::open(path, append)?;
        journal.begin(header);
        Ok(journal)
    }

    /// The header line, held with the first records.
    fn begin(&mut self, header: &Header) {
        serde_json::to_writer(&mut self.pending, header).expect("a header serializes");
        self.pending.push(b'\n');
    }

    fn open(path: &Path, append: bool) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        // Readable too: a torn tail is found by reading back.
        let file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        if !file.metadata()?.is_file() {
            // /dev/null, a pipe: nothing to lock, truncate or repair.
            return Ok(Self::new(Box::new(file)));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    "another writer (a supervisor or a procmap.Pool) holds this journal's lock",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        if !append {
            // Truncating only once the lock is ours; appends then start at 0.
            file.set_len(0)?;
        }
        let mut repaired = 0;
        if append {
            repaired = Self::repair_tail(&file)?;
        }
        let mut journal = Self::new(Box::new(file));
        journal.repaired_bytes = repaired;
        Ok(journal)
    }

    fn new(out: Box<dyn Write + Send>) -> Self {
        Journal {
            out,
            // Room for the record that crosses the threshold, so that the
            // buffer never grows in a run of ordinary records.
            pending: Vec::with_capacity(2 * BUFFER_BYTES),
            last_flush: coarse_now(),
            coarse_slack: coarse_resolution(),
            repaired_bytes: 0,
        }
    }

    /// A journal whose writer died mid-line ends in a fragment: cut it off,
    /// so that the journal stays valid JSON Lines (`jq` reads it) and our
    /// records start on a line of their own. Returns the bytes removed.
    fn repair_tail(file: &File) -> io::Result<u64> {
        use std::io::{Read, Seek, SeekFrom};
        let len = file.metadata()?.len();
        let mut reader = file;
        // The fragment is at most one record long; look back far enough for
        // the biggest record there can be.
        let mut pos = len;
        let mut chunk = vec![0u8; 64 * 1024];
        while pos > 0 {
            let start = pos.saturating_sub(chunk.len() as u64);
            let piece = &mut chunk[..(pos - start) as usize];
            reader.seek(SeekFrom::Start(start))?;
            reader.read_exact(piece)?;
            if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
                let keep = start + i as u64 + 1;
                if keep < len {
                    file.set_len(keep)?;
                }
                return Ok(len - keep);
            }
            pos = start;
        }
        // No newline at all: the whole file is one torn line.
        file.set_len(0)?;
        Ok(len)
    }

    /// Appends `record`; `occurrence` is the job's
    /// [`crate::identity::Identity`] occurrence when the writer knows it,
    /// written only when it is not 0 (see [`crate::occurrence`]).
    pub fn write(&mut self, record: &JobRecord, occurrence: u32) -> io::Result<()> {
        self.write_fields(&Fields::of(record, occurrence))
    }

    /// Appends a record given as its fields (see [`Fields`]).
    pub fn write_fields<A: AsRef<str>>(&mut self, fields: &Fields<'_, A>) -> io::Result<()> {
        self.append_fields(fields)?;
        self.flush_if_due()
    }

    /// Appends a record of a batch that arrived together (a chunk's),
    /// without looking at the clock: the caller calls
    /// [`Journal::flush_if_due`] once the batch is in, as the coarse clock
    /// cost as much as a small record's encoding.
    pub fn append_fields<A: AsRef<str>>(&mut self, fields: &Fields<'_, A>) -> io::Result<()> {
        encode_fields(&mut self.pending, fields);
        if self.pending.len() >= BUFFER_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Flushes if the last flush is [`FLUSH_EVERY`] old. Called after every
    /// record or batch: with records arriving every few tens of
    /// milliseconds, neither a count nor the idle flush in the run loop
    /// would keep the promise that a crash loses at most `FLUSH_EVERY`.
    pub fn flush_if_due(&mut self) -> io::Result<()> {
        if flush_due(coarse_now().saturating_sub(self.last_flush), self.coarse_slack) {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a decision of `--mode auto` where it falls among the
    /// records.
    pub fn write_auto(&mut self, change: &procmap::AutoChange) -> io::Result<()> {
        let line = crate::auto_line::AutoLine::from(change);
        serde_json::to_writer(&mut self.pending, &line).map_err(io::Error::other)?;
        self.pending.push(b'\n');
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = coarse_now();
        self.write_pending()?;
        self.out.flush()
    }

    /// Writes the pending records. They are dropped even if writing fails:
    /// the run ends on a journal error, and retrying later could only put
    /// a torn record after whatever part of them did get written.
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.out.write_all(&self.pending);
        self.pending.clear();
        if self.pending.capacity() > 4 * BUFFER_BYTES {
            // One huge record (a task's big value) need not be held on to.
            self.pending.shrink_to(2 * BUFFER_BYTES);
        }
        written
    }
}

impl Drop for Journal {
    /// Writes what is pending, as the `BufWriter` this replaces did: a
    /// journal dropped without a last flush still gets every record.
    fn drop(&mut self) {
        let _ = self.write_pending();
        let _ = self.out.flush();
    }
}

/// Whether records must be flushed, `since_last` after the last flush as
/// read on a clock that may lag by `slack`: early by the lag rather than
/// late, so that a crash never loses more than [`FLUSH_EVERY`].
fn flush_due(since_last: Duration, slack: Duration) -> bool {
    since_last + slack >= FLUSH_EVERY
}

/// The time on the kernel's coarse monotonic clock, which is read without
/// the timestamp counter the precise clock reads (12 ns against 45 for
/// `Instant::elapsed`, which the journal paid for every record), at the
/// price of lagging by up to [`coarse_resolution`].
fn coarse_now() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    debug_assert_eq!(status, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// How far [`coarse_now`] may lag behind the time (one clock tick: 1 to 10
/// ms), or FLUSH_EVERY should the kernel not say: every record then checks
/// for a flush, which is safe.
fn coarse_resolution() -> Duration {
    let mut res = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_getres writes the timespec it is given, nothing else.
    match unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) } {
        0 => Duration::new(res.tv_sec as u64, res.tv_nsec as u32).min(FLUSH_EVERY),
        _ => FLUSH_EVERY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_s_segment_starts_with_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        // The first run is an auto run: its header says so, and its
        // decision is a line of its own, which starts no segment.
        let header = Header::new("test").auto();
        let record = JobRecord::rejected(1, "cube".into(), vec!["1".into()], "x".into());
        let change = procmap::AutoChange {
            at: Duration::from_millis(90),
            procs: 2,
            threads: 64,
            reason: "jobs use 0.1% of a CPU while they run".into(),
        };
        for append in [false, true] {
            let mut journal = Journal::file(&path, append, &header).unwrap();
            journal.write(&record, 0).unwrap();
            if !append {
                journal.write_auto(&change).unwrap();
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let kinds: Vec<&str> = text
            .lines()
            .map(|l| match parse_line::<serde_json::Value>(l.as_bytes()).unwrap() {
                Line::Header => "header",
                Line::Record(_) => "record",
                Line::Auto => "auto",
                Line::Unreadable => "unreadable",
            })
            .collect();
        assert_eq!(kinds, ["header", "record", "auto", "header", "record"], "{text}");
        assert!(text.lines().next().unwrap().ends_with(r#","mode":"auto"}"#), "{text}");
        let parsed: Header = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(parsed, header);
        assert!(parsed.writer.starts_with("test "), "{}", parsed.writer);
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let err = parse_line::<serde_json::Value>(br#"{"journal":3,"writer":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("format 3 by a newer procmap"), "{err}");
        assert!(matches!(parse_line::<serde_json::Value>(br#"{"journal":1}"#), Ok(Line::Header)));
        assert!(matches!(parse_line::<serde_json::Value>(br#"{"line":1,"#), Ok(Line::Unreadable)));
    }

    #[test]
    fn records_reach_the_file_at_the_threshold_at_a_flush_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path, false).unwrap();
        let record = JobRecord::rejected(1, "cube".into(), vec!["1".into()], "x".into());
        let mut line = Vec::new();
        encode_record(&mut line, &record, 0);
        let on_disk = || std::fs::read(&path).unwrap().len();
        // Below the threshold, nothing is written but on a flush.
        journal.write(&record, 0).unwrap();
        assert_eq!(on_disk(), 0);
        journal.flush().unwrap();
        assert_eq!(on_disk(), line.len());
        // Whole lines only, once the threshold is passed.
        let mut n = 1;
        while on_disk() == line.len() {
            journal.write(&record, 0).unwrap();
            n += 1;
        }
        assert_eq!(on_disk(), n * line.len());
        assert_eq!(
            on_disk() - line.len(),
            BUFFER_BYTES.div_ceil(line.len()) * line.len(),
            "at the threshold"
        );
        // Dropping a journal writes what is pending.
        journal.write(&record, 0).unwrap();
        drop(journal);
        assert_eq!(on_disk(), (n + 1) * line.len());
    }

    #[test]
    fn a_flush_is_due_once_the_interval_less_the_clocks_lag_has_passed() {
        let ms = Duration::from_millis;
        assert!(!flush_due(ms(0), ms(4)));
        assert!(!flush_due(ms(95), ms(4)));
        assert!(flush_due(ms(96), ms(4)), "early by the clock's lag");
        assert!(flush_due(ms(100), ms(0)));
        assert!(!flush_due(ms(99), ms(0)));
    }

    /// Only the lower bound is waited for: a loaded machine can make any
    /// write late, so "not yet due" is the pure function's test above.
    #[test]
    fn a_record_written_once_the_flush_interval_has_passed_flushes_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path, false).unwrap();
        let record = JobRecord::rejected(1, "cube".into(), vec!["1".into()], "x".into());
        journal.write(&record, 0).unwrap();
        std::thread::sleep(FLUSH_EVERY);
        journal.write(&record, 0).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2, "due, by a coarse clock too");
        assert!(coarse_resolution() <= FLUSH_EVERY);
    }

    #[test]
    fn a_journal_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let first = Journal::open(&path, false).unwrap();
        let second = Journal::open(&path, true).err().expect("the journal is locked");
        assert!(second.to_string().contains("another writer (a supervisor or a procmap.Pool)"), "{second}");
        drop(first);
        assert!(Journal::open(&path, true).is_ok());
    }

    #[test]
    fn a_torn_last_line_is_cut_off_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let whole = "{\"line\":1,\"task\":\"cube\",\"args\":[],\"status\":\"ok\",\"attempts\":1}\n";
        std::fs::write(&path, format!("{whole}{{\"line\":3,\"ta")).unwrap();
        let mut journal = Journal::open(&path, true).unwrap();
        assert_eq!(journal.repaired_bytes, 13);
        journal.write(&JobRecord::rejected(4, "cube".into(), vec![], "x".into()), 2).unwrap();
        journal.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(whole), "{text}");
        assert_eq!(text.lines().count(), 2, "the fragment is gone: {text}");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON");
        }
    }

    #[test]
    fn a_torn_tail_longer_than_one_read_is_cut_and_a_whole_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let whole = "{\"line\":1,\"task\":\"cube\",\"args\":[],\"status\":\"ok\",\"attempts\":1}\n";
        // A fragment of 200 KiB: found over several reads back from the end.
        let fragment = format!("{{\"line\":2,\"task\":\"{}", "x".repeat(200 << 10));
        std::fs::write(&path, format!("{whole}{fragment}")).unwrap();
        let journal = Journal::open(&path, true).unwrap();
        assert_eq!(journal.repaired_bytes, fragment.len() as u64);
        drop(journal);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A journal that ends with its newline is left alone.
        assert_eq!(Journal::open(&path, true).unwrap().repaired_bytes, 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // One torn line and nothing else: the file empties.
        std::fs::write(&path, "{\"line\":1,").unwrap();
        assert_eq!(Journal::open(&path, true).unwrap().repaired_bytes, 10);
        assert_eq!(std::fs::read(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_journal_that_is_not_a_regular_file_is_neither_locked_nor_truncated() {
        // Two at once: /dev/null takes no lock.
        let a = Journal::open(Path::new("/dev/null"), false).unwrap();
        let b = Journal::open(Path::new("/dev/null"), false).unwrap();
        assert_eq!((a.repaired_bytes, b.repaired_bytes), (0, 0));
    }
}
