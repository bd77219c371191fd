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
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

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

    /// Appends `record`; `occurrence` is the job's [`Identity`]
    /// occurrence index, written only when it is not 0.
    pub fn write(&mut self, record: &JobRecord, occurrence: u32) -> io::Result<()> {
        encode_record(&mut self.pending, record, occurrence);
        if self.pending.len() >= BUFFER_BYTES {
            self.write_pending()?;
        }
        // Checked on every record: with records arriving every few tens of
        // milliseconds, neither a count nor the idle flush in the run loop
        // would keep the promise that a crash loses at most FLUSH_EVERY.
        if coarse_now().saturating_sub(self.last_flush) + self.coarse_slack >= FLUSH_EVERY {
            self.flush()?;
        }
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

/// Appends `record` as one JSON line. Written by hand rather than through
/// serde because the journal thread is on the hot path of a million-job run
/// (serde_json's generic serializer cost about a third of the supervisor's
/// time); a test checks that both produce the same JSON. Numbers go through
/// [`push_int`] and [`push_ms`], not `write!`, whose formatting machinery
/// cost as much as the rest of the encoding.
pub fn encode_record(out: &mut Vec<u8>, r: &JobRecord, occurrence: u32) {
    out.extend_from_slice(b"{\"line\":");
    push_int(out, r.line);
    if occurrence > 0 {
        out.extend_from_slice(b",\"occurrence\":");
        push_int(out, occurrence);
    }
    out.extend_from_slice(b",\"task\":");
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
    if let Some(text) = &r.error {
        out.extend_from_slice(b",\"error\":");
        json_str(out, text);
    }
    if let Some(text) = &r.signal {
        out.extend_from_slice(b",\"signal\":");
        json_str(out, text);
    }
    if let Some(code) = r.exit_code {
        out.extend_from_slice(b",\"exit_code\":");
        push_int(out, code);
    }
    if let Some(text) = &r.stderr {
        out.extend_from_slice(b",\"stderr\":");
        json_str(out, text);
    }
    out.extend_from_slice(b",\"attempts\":");
    push_int(out, r.attempts);
    if let Some(worker) = r.worker {
        out.extend_from_slice(b",\"worker\":");
        push_int(out, worker);
    }
    if let Some(ms) = r.ms.filter(|ms| ms.is_finite()) {
        out.extend_from_slice(b",\"ms\":");
        push_ms(out, ms);
    }
    out.extend_from_slice(b"}\n");
}

/// Appends an integer in decimal, as `Display` writes it.
fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a finite `f64` exactly as `Display` writes it: the shortest
/// decimal that reads back as the same number, never in exponent form (so
/// valid JSON), `-` only for a negative number or -0.
///
/// The digits come from `zmij` (serde_json's float printer), laid out here
/// without the exponent it uses for large and small numbers. zmij and std
/// both print the shortest digits that read back, but when two candidates
/// of that length are equally close they may pick differently (std rounds
/// half up, zmij to even: 1251729620698.53125 is ...5313 in one and ...5312
/// in the other). That can only happen at 16 or 17 significant digits:
/// numbers of at most 15 digits are spaced more than 10^-15 apart,
/// relatively, and the interval that reads back as one `f64` is at most
/// 2^-52 < 2.3 × 10^-16 of it wide, so it holds at most one of them. Longer
/// outputs therefore go through std. A job's `ms` (nanoseconds / 10^6) has
/// at most 15 digits for any run shorter than 11 days.
fn push_ms(out: &mut Vec<u8>, ms: f64) {
    debug_assert!(ms.is_finite());
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(ms).as_bytes();
    if text.len() <= 16 && !text.contains(&b'e') {
        // Fixed notation, at most 15 digits: zmij's text is Display's but
        // for the ".0" it puts after a whole number.
        out.extend_from_slice(text.strip_suffix(b".0").unwrap_or(text));
        return;
    }
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (&text[..i], parse_exponent(&text[i + 1..])),
        None => (text, 0),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    // The significant digits, and where the decimal point goes among them.
    let mut digits = [0u8; 40];
    let count = int.len() + frac.len();
    digits[..int.len()].copy_from_slice(int);
    digits[int.len()..count].copy_from_slice(frac);
    let mut digits = &digits[..count];
    let mut point = int.len() as i32 + exponent;
    while let Some((b'0', rest)) = digits.split_first() {
        digits = rest;
        point -= 1;
    }
    while let Some((b'0', rest)) = digits.split_last() {
        digits = rest;
    }
    if digits.len() > 15 {
        let _ = std::io::Write::write_fmt(out, format_args!("{ms}"));
        return;
    }
    if negative {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.push(b'0');
    } else if point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + point.unsigned_abs() as usize, b'0');
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.resize(out.len() + point as usize - digits.len(), b'0');
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
}

/// The exponent after zmij's `e`: an optional sign and decimal digits.
fn parse_exponent(text: &[u8]) -> i32 {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        Some((b'+', rest)) => (1, rest),
        _ => (1, text),
    };
    sign * digits.iter().fold(0i32, |n, &d| n * 10 + i32::from(d - b'0'))
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
            0..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]],
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
    use serde_json::value::RawValue;

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

    /// The encoder as it was written with `write!` and `Display`: what
    /// the journal's bytes must stay.
    fn encode_with_fmt(out: &mut Vec<u8>, r: &JobRecord, occurrence: u32) {
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
            let _ = write!(out, ",\"ms\":{ms}");
        }
        out.extend_from_slice(b"}\n");
    }

    /// A xorshift64 generator: the same numbers on every run.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// `push_ms` against `Display`, one value.
    fn check_ms(ms: f64) {
        let mut ours = Vec::new();
        push_ms(&mut ours, ms);
        assert_eq!(String::from_utf8(ours).unwrap(), ms.to_string(), "bits {:#x}", ms.to_bits());
    }

    #[test]
    fn ms_is_printed_as_display_prints_it() {
        for ms in [
            0.0,
            -0.0,
            1.0,
            0.5,
            0.004,
            1e-7,
            1.5e-7,
            0.1 + 0.2,
            123.456,
            1e15,
            1e16,
            1e21,
            1e22,
            1.2345e-5,
            1e23,
            f64::EPSILON,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            -1.5,
        ] {
            check_ms(ms);
        }
        // Every power of ten and its neighbours: where the layout changes.
        for e in -324..=308 {
            let p: f64 = format!("1e{e}").parse().unwrap();
            for v in [p, p.next_up(), p.next_down(), 2.5 * p, 9.5 * p] {
                if v.is_finite() {
                    check_ms(v);
                }
            }
        }
        // What the journal holds: nanoseconds / 1e6, short jobs densely.
        for nanos in 0..300_000u64 {
            check_ms(nanos as f64 / 1e6);
        }
        let mut state = 0x2545_f491_4f6c_dd1d;
        for _ in 0..300_000 {
            let nanos = xorshift(&mut state) >> (xorshift(&mut state) % 64);
            check_ms(nanos as f64 / 1e6);
        }
        // Any finite double at all.
        for _ in 0..300_000 {
            let v = f64::from_bits(xorshift(&mut state));
            if v.is_finite() {
                check_ms(v);
            }
        }
    }

    #[test]
    fn integers_are_printed_as_display_prints_them() {
        let mut out = Vec::new();
        for n in [0u64, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            out.clear();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0i32, -1, 7, -42, i32::MIN, i32::MAX] {
            out.clear();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn control_characters_are_escaped_as_serde_escapes_them() {
        for c in (0u8..0x80).map(char::from).chain(['é', '\u{7f}', '\u{2028}', '😀']) {
            let text = format!("a{c}b{c}");
            let mut ours = Vec::new();
            json_str(&mut ours, &text);
            let ours = String::from_utf8(ours).unwrap();
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), text);
            if c < ' ' && !"\n\r\t".contains(c) {
                assert_eq!(ours, format!("\"a\\u{:04x}b\\u{:04x}\"", c as u32, c as u32));
            }
        }
    }

    #[test]
    fn the_journal_s_bytes_are_those_of_the_fmt_encoder() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let mut records = Vec::new();
        for i in 0..20_000u64 {
            let r = xorshift(&mut state);
            let mut record = JobRecord::rejected(
                r >> (r % 64),
                ["cube", "a \"b\"", "é\n"][(i % 3) as usize].into(),
                (0..i % 4).map(|k| format!("{k}\t{}", r % 1000)).collect(),
                "x".into(),
            );
            match i % 4 {
                0 => {
                    record.status = Status::Ok;
                    record.error = None;
                    record.value = Some(RawValue::from_string(format!("{}", r % 100_000)).unwrap());
                }
                1 => {
                    record.status = Status::Crashed;
                    record.signal = Some("SIGKILL".into());
                    record.exit_code = Some((r as i32) >> (r % 32));
                    record.stderr = Some("oops\u{1}\r\n".into());
                }
                2 => record.status = Status::Timeout,
                _ => {}
            }
            record.attempts = (r % 5) as u32;
            record.worker = (i % 5 != 0).then_some((r >> 40) as u32);
            record.ms = match i % 7 {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(f64::INFINITY),
                3 => Some(f64::from_bits(r)),
                _ => Some((r >> (r % 64)) as f64 / 1e6),
            };
            records.push((record, if i % 3 == 0 { 0 } else { (r % 4) as u32 }));
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for (record, occurrence) in &records {
            ours.clear();
            theirs.clear();
            encode_record(&mut ours, record, *occurrence);
            encode_with_fmt(&mut theirs, record, *occurrence);
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }

    #[test]
    fn records_reach_the_file_at_the_threshold_at_a_flush_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::file(&path, false).unwrap();
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
    fn a_record_written_once_the_flush_interval_has_passed_flushes_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::file(&path, false).unwrap();
        let record = JobRecord::rejected(1, "cube".into(), vec!["1".into()], "x".into());
        journal.write(&record, 0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 0, "not yet due");
        std::thread::sleep(FLUSH_EVERY);
        journal.write(&record, 0).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2, "due, by a coarse clock too");
        assert!(coarse_resolution() <= FLUSH_EVERY);
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
