//! The JSON Lines journal: written as results arrive, read back to resume.
//!
//! Records are appended and flushed at least every [`FLUSH_EVERY`], so a
//! supervisor killed outright loses at most that much. On reading, a torn
//! last line (the process died mid-write) is ignored.

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
        let file = OpenOptions::new().create(true).append(true).open(path)?;
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
        let mut journal = Self::new(Box::new(file));
        if append {
            journal.repair_tail(path)?;
        }
        Ok(journal)
    }

    fn new(out: Box<dyn Write + Send>) -> Self {
        Journal {
            out: BufWriter::with_capacity(64 * 1024, out),
            last_flush: Instant::now(),
            line: Vec::with_capacity(256),
        }
    }

    /// A journal whose writer died mid-line ends without a newline; start
    /// our records on a fresh line so the torn one stays a single bad line.
    fn repair_tail(&mut self, path: &Path) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = File::open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        if len == 0 {
            return Ok(());
        }
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8];
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn write(&mut self, record: &JobRecord) -> io::Result<()> {
        self.line.clear();
        encode_record(&mut self.line, record);
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
pub fn encode_record(out: &mut Vec<u8>, r: &JobRecord) {
    use std::io::Write as _;
    let _ = write!(out, "{{\"line\":{},\"task\":", r.line);
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

/// A job's identity across runs: its line number and a hash of what the
/// line asks for. An edited line hashes differently and so runs again,
/// where GNU parallel's `--resume`, keyed on the sequence number alone,
/// would skip it.
pub fn job_key(line: u64, task: &str, args: &[String]) -> (u64, u64) {
    // FNV-1a: stable across Rust versions and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x100000001b3);
    };
    eat(task.as_bytes());
    for a in args {
        eat(a.as_bytes());
    }
    (line, h)
}

/// The latest status of every job in an existing journal.
pub struct Previous {
    latest: HashMap<(u64, u64), Status>,
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
            line: u64,
            task: String,
            args: Vec<String>,
            status: Status,
        }
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            match serde_json::from_slice::<Key>(&line) {
                Ok(k) => {
                    latest.insert(job_key(k.line, &k.task, &k.args), k.status);
                }
                Err(_) => torn_lines += 1,
            }
        }
        Ok(Previous { latest, torn_lines })
    }

    /// Whether a job is already done: recorded at all, or recorded ok when
    /// `only_ok`.
    pub fn is_done(&self, line: u64, task: &str, args: &[String], only_ok: bool) -> bool {
        match self.latest.get(&job_key(line, task, args)) {
            Some(Status::Ok) => true,
            Some(_) => !only_ok,
            None => false,
        }
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
            encode_record(&mut ours, r);
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
        let args = |s: &str| vec![s.to_owned()];
        assert!(prev.is_done(1, "cube", &args("1"), true));
        assert!(prev.is_done(2, "cube", &args("2"), false));
        assert!(!prev.is_done(2, "cube", &args("2"), true));
        assert!(!prev.is_done(1, "cube", &args("9"), false), "an edited line runs again");
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
    fn appending_after_a_torn_line_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"line\":3,\"ta").unwrap();
        let mut journal = Journal::file(&path, true).unwrap();
        journal.write(&JobRecord::rejected(4, "cube".into(), vec![], "x".into())).unwrap();
        journal.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(Previous::load(&path).unwrap().len(), 1);
    }
}
