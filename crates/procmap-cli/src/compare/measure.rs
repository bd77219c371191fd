//! One measured run: the supervisor itself, as a child process, on the jobs
//! file in one configuration, timed from spawn to exit.
//!
//! A child process rather than an in-process pool so that every
//! configuration pays what a user's run pays (start-up, the journal, worker
//! spawning), starts from a clean process, and cannot be skewed by the
//! allocator or thread state left over from the previous configuration.

use super::interrupt::Interrupt;
use super::plan::Config;
use anyhow::{Context as _, bail};
use procmap_batch::journal::{Line, parse_line};
use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What every run shares.
pub struct Runner<'a> {
    /// The supervisor binary: this executable.
    pub exe: PathBuf,
    pub jobs: &'a Path,
    pub task: Option<&'a str>,
    pub worker: Option<&'a Path>,
    /// Journals and task outputs go here, never to the user's `out/`.
    pub scratch: &'a Path,
    pub interrupt: &'a Interrupt,
}

/// A run that finished with exit code 0 or 1: a valid measurement.
#[derive(Debug, Clone)]
pub struct Run {
    pub wall: Duration,
    /// The CPU time of the run: the supervisor's and its workers' (user
    /// and system).
    pub cpu: Duration,
    /// Records in the journal: one per job, whatever its status.
    pub jobs: usize,
    /// Records whose status is not ok.
    pub failed: usize,
    /// The last lines of the child's stderr, for error messages.
    pub stderr_tail: String,
}

pub enum Outcome {
    Measured(Run),
    /// The user interrupted `compare` while this run was going on.
    Interrupted,
}

impl Runner<'_> {
    /// Runs configuration number `index` once.
    pub fn run(&self, index: usize, config: &Config) -> anyhow::Result<Outcome> {
        // A Ctrl-C between two runs stops before the next one starts.
        if self.interrupt.interrupted() {
            return Ok(Outcome::Interrupted);
        }
        let journal = self.scratch.join(format!("journal-{index}.jsonl"));
        let out_dir = self.scratch.join(format!("out-{index}"));
        // Each repeat starts from an empty output directory so that every
        // run writes the same files from scratch.
        match std::fs::remove_dir_all(&out_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e)
                    .with_context(|| format!("cannot empty scratch directory {}", out_dir.display()));
            }
            _ => {}
        }

        let mut cmd = Command::new(&self.exe);
        cmd.args(["-q", "--overwrite", "--allow-outside", "-o"])
            .arg(&journal)
            .arg("--out-dir")
            .arg(&out_dir)
            .args(config.supervisor_args());
        if let Some(task) = self.task {
            cmd.args(["--task", task]);
        }
        if let Some(worker) = self.worker {
            cmd.arg("--worker").arg(worker);
        }
        // `--` so that a jobs file named like an option is still a file.
        cmd.arg("--").arg(self.jobs);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        // Signals reach the run only through `Interrupt` (see there).
        cmd.process_group(0);

        let started = Instant::now();
        // Runs go one at a time, so the CPU time of waited-for children
        // grows by this run's alone: the supervisor's, and its workers',
        // which it waited for.
        let cpu_before = children_cpu();
        let child = cmd.spawn().with_context(|| format!("cannot start {}", self.exe.display()))?;
        self.interrupt.set_child(Some(child.id()));
        let output = child.wait_with_output();
        let wall = started.elapsed();
        let cpu = children_cpu().saturating_sub(cpu_before);
        self.interrupt.set_child(None);
        let output = output.with_context(|| format!("cannot wait for the {} run", config.describe()))?;
        let stderr_tail = tail(&output.stderr, 10);

        if self.interrupt.interrupted() {
            return Ok(Outcome::Interrupted);
        }
        let exit = match (output.status.code(), output.status.signal()) {
            (Some(code @ (0 | 1)), _) => code,
            (Some(2), _) => bail!(
                "the {} run stopped with a usage or setup error (exit 2){stderr_tail}",
                config.describe()
            ),
            (Some(130), _) => bail!("the {} run was interrupted (exit 130){stderr_tail}", config.describe()),
            (Some(code), _) => bail!("the {} run exited {code}{stderr_tail}", config.describe()),
            (None, Some(signal)) => {
                bail!("the {} run was killed by signal {signal}{stderr_tail}", config.describe())
            }
            (None, None) => bail!("the {} run ended without an exit code{stderr_tail}", config.describe()),
        };
        let (jobs, failed) = count_records(&journal).with_context(|| {
            format!("the {} run exited {exit} but its journal is unreadable{stderr_tail}", config.describe())
        })?;
        Ok(Outcome::Measured(Run { wall, cpu, jobs, failed, stderr_tail }))
    }
}

/// User and system time of this process's waited-for children and their
/// waited-for descendants.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes the struct it is given, nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Records in a journal, and how many of them are not ok.
fn count_records(path: &Path) -> anyhow::Result<(usize, usize)> {
    #[derive(serde::Deserialize)]
    struct Record {
        status: String,
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (mut jobs, mut failed) = (0, 0);
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = match parse_line::<Record>(line.as_bytes())? {
            Line::Record(record) => record,
            Line::Header | Line::Auto => continue,
            Line::Unreadable => bail!("line {} of {} is not a record", n + 1, path.display()),
        };
        jobs += 1;
        if record.status != "ok" {
            failed += 1;
        }
    }
    Ok((jobs, failed))
}

/// The last `lines` lines of a child's stderr, indented for an error
/// message, or a note that it was empty.
fn tail(stderr: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(stderr);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        return "\n  (its stderr was empty)".to_owned();
    }
    let shown = &all[all.len().saturating_sub(lines)..];
    format!("\n  its stderr ends with:\n    {}", shown.join("\n    "))
}

/// The jobs file as the child will see it: it runs in the same directory,
/// so a relative path stays valid. Standard input cannot be replayed.
pub fn check_jobs_file(path: &Path) -> anyhow::Result<()> {
    if path == OsStr::new("-") {
        bail!("compare runs the jobs several times, so it needs a jobs file, not standard input (-)");
    }
    std::fs::File::open(path).with_context(|| format!("cannot read jobs file {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"", 3), "\n  (its stderr was empty)");
        assert_eq!(tail(b"a\nb\n\nc\nd\n", 2), "\n  its stderr ends with:\n    c\n    d");
    }

    #[test]
    fn counts_records_and_failures() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"status\":\"ok\"}\n{\"status\":\"crashed\"}\n\n{\"status\":\"ok\"}\n")
            .expect("write journal");
        assert_eq!(count_records(&path).expect("count"), (3, 1));
        std::fs::write(&path, "{\"status\":\"ok\"}\n{\"stat").expect("write journal");
        assert!(count_records(&path).is_err());
    }
}
