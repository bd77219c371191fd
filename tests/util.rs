//! Shared helpers: a fresh directory per test, the real binaries, and
//! waits that always have a deadline and say what they waited for.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const SUPERVISOR: &str = env!("CARGO_BIN_EXE_supervisor");

/// The longest any single command in a test may run.
pub const LIMIT: Duration = Duration::from_secs(120);

pub struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { dir: tempfile::Builder::new().prefix("procmap-test").tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// Starts `supervisor ARGS -o journal.jsonl jobs.txt` in the background,
    /// stderr piped (for the interrupt message), stdout discarded. Returns
    /// the child and the journal's path.
    pub fn spawn_run(&self, args: &[&str], jobs: &str) -> (Child, PathBuf) {
        let jobs = self.write("jobs.txt", jobs);
        let journal = self.join("journal.jsonl");
        let child = self
            .supervisor()
            .args(args)
            .arg("-o")
            .arg(&journal)
            .arg(&jobs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisor");
        (child, journal)
    }

    /// Starts `supervisor ARGS -o JOURNAL -` in the background, reading its
    /// jobs from a pipe the test writes (`child.stdin`), stderr piped,
    /// stdout discarded.
    pub fn spawn_on_stdin(&self, args: &[&str], journal: &Path) -> Child {
        self.supervisor()
            .args(args)
            .arg("-o")
            .arg(journal)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisor")
    }

    /// Runs `script` with bash in this directory, within [`LIMIT`]: for the
    /// redirections and pipes a test needs around the supervisor.
    pub fn shell(&self, script: &str) -> Output {
        run(Command::new("bash").arg("-c").arg(script).current_dir(self.path()), None)
    }

    /// `supervisor` with this directory as working directory.
    pub fn supervisor(&self) -> Command {
        let mut cmd = Command::new(SUPERVISOR);
        cmd.current_dir(self.path()).env_remove("RUST_LOG").env_remove("PROCMAP_WORKER");
        cmd
    }
}

/// The custom worker example, built by `cargo test` with the examples.
pub fn custom_worker() -> PathBuf {
    let bin_dir = Path::new(SUPERVISOR).parent().expect("binary directory");
    bin_dir.join("examples").join("custom-worker")
}

/// Runs `cmd` to completion, feeding it `stdin`, within [`LIMIT`].
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn supervisor");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let text = text.to_owned();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    wait_output(child, LIMIT)
}

/// Waits for `child` and collects its output; kills it and fails the test
/// if it takes longer than `limit`.
pub fn wait_output(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("wait for supervisor"),
        Err(_) => {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("supervisor (pid {pid}) did not finish within {limit:?}");
        }
    }
}

/// Waits for `child` to exit within `limit`.
pub fn wait_status(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `cond` until it holds, failing the test with `what` after `limit`.
/// For conditions no event announces (a file's contents, /proc).
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses a finished journal: every line must be a JSON record, and the
/// last must end with a newline. Stray text fails the test.
pub fn records(text: &str) -> Vec<Value> {
    assert!(text.is_empty() || text.ends_with('\n'), "the journal ends in a torn line: {:?}", tail(text));
    parse_lines(text.lines())
}

/// Parses a journal that a run may be writing right now, or that a killed
/// run left: a last line without its newline is skipped; every complete
/// line must still be a record.
pub fn records_allowing_torn_tail(text: &str) -> Vec<Value> {
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    parse_lines(complete.lines())
}

/// The records of a journal's lines: every line is JSON, and each run's
/// segment starts with a header (`{"journal":2,...}`), which is checked and
/// left out, as are the decisions of `--mode auto` (`{"auto":...}`).
fn parse_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
    let mut records = Vec::new();
    let mut headers = 0;
    for l in lines {
        let value: Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line {l:?} is not JSON: {e}"));
        if value.get("journal").is_some() {
            assert_eq!(value["journal"], 2, "a header of format 2: {l}");
            headers += 1;
            continue;
        }
        assert!(headers > 0, "a record before any header: {l}");
        if value.get("auto").is_none() {
            records.push(value);
        }
    }
    records
}

fn tail(text: &str) -> &str {
    &text[text.len().saturating_sub(200)..]
}

/// A finished journal (see [`records`]); empty if the file does not exist.
pub fn journal(path: &Path) -> Vec<Value> {
    records(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The journal of a run still going (see [`records_allowing_torn_tail`]).
pub fn journal_so_far(path: &Path) -> Vec<Value> {
    records_allowing_torn_tail(&std::fs::read_to_string(path).unwrap_or_default())
}

pub fn stdout_records(output: &Output) -> Vec<Value> {
    records(&String::from_utf8_lossy(&output.stdout))
}

/// Records with the fields that vary between runs (worker, ms, start, cpu_ms) removed,
/// sorted by line: what must be identical across modes.
pub fn normalized(mut records: Vec<Value>) -> Vec<Value> {
    for r in &mut records {
        let o = r.as_object_mut().expect("record is an object");
        o.remove("worker");
        o.remove("ms");
        o.remove("start");
        o.remove("cpu_ms");
    }
    records.sort_by_key(|r| r["line"].as_u64());
    records
}

/// Pids of the live children of `parent`, from /proc.
pub fn children(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return pids };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name may contain spaces; the fields after ')' do not.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) && fields[0] != "Z" {
            pids.push(pid);
        }
    }
    pids
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 2..].split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// A small deterministic generator, so tests need no RNG crate.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
