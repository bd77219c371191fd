//! The JSON Lines journal: written as results arrive, read back to resume.
//!
//! Records are appended and flushed at least every [`FLUSH_EVERY`], so a
//! supervisor killed outright loses at most that much. On reading, a torn
//! last line (the process died mid-write) is ignored when reading, and cut
//! off before a resumed run appends.

use crate::identity::{Identity, job_hash};
use procmap::{JobRecord, Status};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub struct Journal {
    out: BufWriter<Box<dyn Write + Send>>,
    last_flush: Instant,
    line: Vec<u8>,
    /// The size of the torn last line removed on opening, if any.
    pub repaired_bytes: u64,
}

impl Journal {
    pub fn stdout() -> Self {
        Self::new(Box::new(io::stdout()))
    }

    /// Opens `path` for appending (resume) or truncates it, after taking
    /// an exclusive lock on it for as long as the journal is open: two runs
    /// resuming one journal at once would both run every pending job.
    pub fn file(path: &Path, append: bool) -> io::Result<Self> {
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
                    "another supervisor is writing this journal",
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
            out: BufWriter::with_capacity(64 * 1024, out),
            last_flush: Instant::now(),
            line: Vec::with_capacity(256),
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

    /// Appends `record`; `occurrence` is the job's [`Identity`]
    /// occurrence index, written only when it is not 0.
    pub fn write(&mut self, record: &JobRecord, occurrence: u32) -> io::Result<()> {
        self.line.clear();
        encode_record(&mut self.line, record, occurrence);
        self.out.write_all(&self.line)?;
        // Checked on every record: with records arriving every few tens of
        // milliseconds, neither a count nor the idle flush in the run loop
        // would keep the promise that a crash loses at most FLUSH_EVERY.
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        self.out.flush()
    }
}

/// Appends `record` as one JSON line. Written by hand rather than through
/// serde because the journal thread is on the hot path of a million-job run
/// (serde_json's generic serializer cost about a third of the supervisor's
/// time); a test checks that both produce the same JSON.
pub fn encode_record(out: &mut Vec<u8>, r: &JobRecord, occurrence: u32) {
    use std::io::Write as _;
    let _ = write!(out, "{{\"line\":{},", r.line);
    if occurrence > 0 {
        let _ = write!(out, "\"occurrence\":{occurrence},");
    }
    out.extend_from_slice(b"\"task\":");
    json_str(out, &r.task);
    out.extend_from_slice(b",\"args\":[");
    for (i, arg) in r.args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, arg);
    }
    out.extend_from_slice(b"],\"status\":\"");
    out.extend_from_slice(r.status.as_str().as_bytes());
    out.push(b'"');
    if let Some(value) = &r.value {
        out.extend_from_slice(b",\"value\":");
        out.extend_from_slice(value.get().as_bytes());
    }
    for (key, text) in [("error", &r.error), ("signal", &r.signal)] {
        if let Some(text) = text {
            let _ = write!(out, ",\"{key}\":");
            json_str(out, text);
        }
    }
    if let Some(code) = r.exit_code {
        let _ = write!(out, ",\"exit_code\":{code}");
    }
    if let Some(text) = &r.stderr {
        out.extend_from_slice(b",\"stderr\":");
        json_str(out, text);
    }
    let _ = write!(out, ",\"attempts\":{}", r.attempts);
    if let Some(worker) = r.worker {
        let _ = write!(out, ",\"worker\":{worker}");
    }
    if let Some(ms) = r.ms.filter(|ms| ms.is_finite()) {
        // Rust prints the shortest decimal that reads back as the same f64,
        // never in exponent form: valid JSON.
        let _ = write!(out, ",\"ms\":{ms}");
    }
    out.extend_from_slice(b"}\n");
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = std::io::Write::write_fmt(out, format_args!("\\u{b:04x}"));
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The latest status of every job in an existing journal, by identity.
pub struct Previous {
    latest: HashMap<Identity, Status>,
    pub torn_lines: usize,
}

impl Previous {
    pub fn load(path: &Path) -> io::Result<Previous> {
        let mut latest = HashMap::new();
        let mut torn_lines = 0;
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Previous { latest, torn_lines }),
            Err(e) => return Err(e),
        };
        #[derive(serde::Deserialize)]
        struct Key {
            task: String,
            args: Vec<String>,
            #[serde(default)]
            occurrence: u32,
            status: Status,
        }
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            match serde_json::from_slice::<Key>(&line) {
                Ok(k) => {
                    let id = Identity { hash: job_hash(&k.task, &k.args), occurrence: k.occurrence };
                    latest.insert(id, k.status);
                }
                Err(_) => torn_lines += 1,
            }
        }
        Ok(Previous { latest, torn_lines })
    }

    /// Whether a job is already done: recorded at all, or recorded ok when
    /// `only_ok`.
    pub fn is_done(&self, id: &Identity, only_ok: bool) -> bool {
        match self.latest.get(id) {
            Some(Status::Ok) => true,
            Some(_) => !only_ok,
            None => false,
        }
    }

    /// The latest status recorded for a job, if any.
    pub fn status(&self, id: &Identity) -> Option<Status> {
        self.latest.get(id).copied()
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_encoder_matches_serde() {
        let mut r = JobRecord::rejected(
            12,
            "cube".into(),
            vec!["a \"b\"".into(), "\\ \n\t\u{1}é".into()],
            "x".into(),
        );
        let check = |r: &JobRecord| {
            let mut ours = Vec::new();
            encode_record(&mut ours, r, 0);
            assert_eq!(ours.last(), Some(&b'\n'));
            let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
            let theirs = serde_json::to_value(r).unwrap();
            assert_eq!(ours, theirs);
        };
        check(&r);
        r.status = Status::Ok;
        r.error = None;
        r.value = Some(serde_json::value::RawValue::from_string("{\"a\":[1,2.5]}".into()).unwrap());
        r.worker = Some(4242);
        r.ms = Some(0.004);
        r.attempts = 3;
        check(&r);
        r.status = Status::Crashed;
        r.value = None;
        r.signal = Some("SIGSEGV".into());
        r.exit_code = Some(-3);
        r.stderr = Some("line 1\nline \"2\"".into());
        r.ms = Some(1e-7);
        check(&r);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(
            &path,
            "{\"line\":1,\"task\":\"cube\",\"args\":[\"1\"],\"status\":\"ok\",\"attempts\":1}\n\
             {\"line\":2,\"task\":\"cube\",\"args\":[\"2\"],\"status\":\"error\",\"attempts\":1}\n\
             {\"line\":3,\"task\":\"cu",
        )
        .unwrap();
        let prev = Previous::load(&path).unwrap();
        assert_eq!((prev.len(), prev.torn_lines), (2, 1));
        let id = |s: &str| Identity { hash: job_hash("cube", &[s.to_owned()]), occurrence: 0 };
        assert!(prev.is_done(&id("1"), true));
        assert!(prev.is_done(&id("2"), false));
        assert!(!prev.is_done(&id("2"), true));
        assert!(!prev.is_done(&id("9"), false), "an edited line runs again");
    }

    #[test]
    fn a_journal_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let first = Journal::file(&path, false).unwrap();
        let second = Journal::file(&path, true).err().expect("the journal is locked");
        assert!(second.to_string().contains("another supervisor"), "{second}");
        drop(first);
        assert!(Journal::file(&path, true).is_ok());
    }

    #[test]
    fn a_torn_last_line_is_cut_off_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let whole = "{\"line\":1,\"task\":\"cube\",\"args\":[],\"status\":\"ok\",\"attempts\":1}\n";
        std::fs::write(&path, format!("{whole}{{\"line\":3,\"ta")).unwrap();
        let mut journal = Journal::file(&path, true).unwrap();
        assert_eq!(journal.repaired_bytes, 13);
        journal.write(&JobRecord::rejected(4, "cube".into(), vec![], "x".into()), 2).unwrap();
        journal.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(whole), "{text}");
        assert_eq!(text.lines().count(), 2, "the fragment is gone: {text}");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON");
        }
        let prev = Previous::load(&path).unwrap();
        assert_eq!((prev.len(), prev.torn_lines), (2, 0));
        assert!(prev.is_done(&Identity { hash: job_hash("cube", &[]), occurrence: 2 }, false));
    }

    #[test]
    fn strings_are_escaped_the_short_way() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\nd\re\tf\u{1}g\u{7f}é");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{7f}é\"");
    }

    #[test]
    fn a_repeat_s_occurrence_is_written_and_a_first_s_is_not() {
        let r = JobRecord::rejected(3, "cube".into(), vec!["2".into()], "x".into());
        let mut first = Vec::new();
        encode_record(&mut first, &r, 0);
        assert!(!String::from_utf8_lossy(&first).contains("occurrence"));
        let mut repeat = Vec::new();
        encode_record(&mut repeat, &r, 2);
        assert!(String::from_utf8_lossy(&repeat).starts_with("{\"line\":3,\"occurrence\":2,\"task\""));
    }

    #[test]
    fn a_torn_tail_longer_than_one_read_is_cut_and_a_whole_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let whole = "{\"line\":1,\"task\":\"cube\",\"args\":[],\"status\":\"ok\",\"attempts\":1}\n";
        // A fragment of 200 KiB: found over several reads back from the end.
        let fragment = format!("{{\"line\":2,\"task\":\"{}", "x".repeat(200 << 10));
        std::fs::write(&path, format!("{whole}{fragment}")).unwrap();
        let journal = Journal::file(&path, true).unwrap();
        assert_eq!(journal.repaired_bytes, fragment.len() as u64);
        drop(journal);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A journal that ends with its newline is left alone.
        assert_eq!(Journal::file(&path, true).unwrap().repaired_bytes, 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // One torn line and nothing else: the file empties.
        std::fs::write(&path, "{\"line\":1,").unwrap();
        assert_eq!(Journal::file(&path, true).unwrap().repaired_bytes, 10);
        assert_eq!(std::fs::read(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_journal_that_is_not_a_regular_file_is_neither_locked_nor_truncated() {
        // Two at once: /dev/null takes no lock.
        let a = Journal::file(Path::new("/dev/null"), false).unwrap();
        let b = Journal::file(Path::new("/dev/null"), false).unwrap();
        assert_eq!((a.repaired_bytes, b.repaired_bytes), (0, 0));
    }

    #[test]
    fn no_journal_yet_means_nothing_done() {
        let dir = tempfile::tempdir().unwrap();
        let prev = Previous::load(&dir.path().join("none.jsonl")).unwrap();
        assert!(prev.is_empty());
        assert_eq!(prev.torn_lines, 0);
        std::fs::write(
            dir.path().join("j.jsonl"),
            "{\"line\":1,\"task\":\"t\",\"args\":[],\"status\":\"timeout\",\"attempts\":1}\n",
        )
        .unwrap();
        let prev = Previous::load(&dir.path().join("j.jsonl")).unwrap();
        assert!(!prev.is_empty());
        let id = Identity { hash: job_hash("t", &[]), occurrence: 0 };
        assert_eq!(prev.status(&id), Some(Status::Timeout));
        // A directory is an error, not an empty journal.
        assert!(Previous::load(dir.path()).is_err());
    }
}
