//! The arguments of a plain run, `supervisor [OPTIONS] JOBS`: what `slurm
//! submit` also takes and checks for its shards.
//!
//! `--shards` and `--run-dir` need `--shard` in a plain run, which
//! `sharding` checks rather than clap: `slurm submit` takes them without
//! it.

use crate::units::{parse_duration, parse_size};
use clap::{Args, ValueEnum};
use procmap::Chunking;
use std::path::PathBuf;
use std::time::Duration;

// The defaults of a run, here so that `--help`, runs built in code
// (`supervisor demo`) and the batch script of `slurm submit` agree.
pub(super) const DEFAULT_RETRIES: u32 = 2;
pub(super) const DEFAULT_GRACE: &str = "10s";
pub(super) const DEFAULT_OUT_DIR: &str = "out";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Worker processes: crash isolation.
    Process,
    /// Threads of the supervisor: no isolation from segfaults or aborts.
    Thread,
    /// One job after another, inline.
    Serial,
    /// Worker processes (crash isolation kept), each running as many
    /// threads as the jobs need, chosen and adapted while the run goes:
    /// one per worker while jobs are CPU-bound, more while they wait (on
    /// I/O, a sleep) and more threads raise throughput.
    Auto,
}

/// `--chunksize`: a fixed number of jobs, or `auto` (see [`Chunking`]).
pub fn parse_chunksize(s: &str) -> Result<Chunking, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A bar on a terminal, nothing otherwise.
    Auto,
    /// A bar on a terminal, a status line every second otherwise.
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The jobs file, or - for standard input.
    #[arg(required = true, value_name = "JOBS")]
    pub jobs: Option<PathBuf>,

    /// Worker processes (or threads). Default: SLURM_CPUS_PER_TASK inside a
    /// Slurm job that sets it, else the number of cores.
    #[arg(short, long, value_name = "N", env = "SLURM_CPUS_PER_TASK", value_parser = clap::value_parser!(u32).range(1..))]
    pub procs: Option<u32>,

    /// Jobs per IPC message, or `auto` to size chunks from measured job
    /// times. Bigger chunks cost less overhead; smaller ones balance better
    /// and lose less to a crash.
    #[arg(short, long, value_name = "N|auto", default_value = "auto", value_parser = parse_chunksize)]
    pub chunksize: Chunking,

    /// Threads per worker process (hybrid mode: procs × threads), so that
    /// I/O-bound jobs overlap while processes still isolate crashes.
    #[arg(long, value_name = "T", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,

    /// Where jobs run. `auto` is process mode (crash isolation kept) that
    /// picks the threads per worker and adapts them: it measures windows of
    /// 16 jobs and 0.5 s (the first: 8 jobs and 0.05 s); jobs that use at least 15% of
    /// a CPU while they run get one thread per worker, one worker per core
    /// (--procs); jobs that wait get more threads per worker (a first guess
    /// from the measured share, then doubled while throughput rises by 10%,
    /// back when it does not; at most 64, and no more than the idle CPUs
    /// can feed). Tasks then run on several threads of a worker at once, as
    /// with --threads: they must be thread-safe. It ignores --threads, and
    /// is not the default (README, Benchmarks). The summary, -v and the journal
    /// (mode "auto" in its header, then {"auto":{...}} lines among the
    /// records) say what it chose, when and why.
    #[arg(long, value_enum, default_value_t = ModeArg::Process)]
    pub mode: ModeArg,

    /// Every line is the arguments of task NAME (like executor.map(fn, lines)).
    #[arg(short, long, value_name = "NAME")]
    pub task: Option<String>,

    /// The JSON Lines journal; - for standard output.
    #[arg(short = 'o', long = "results", value_name = "PATH", default_value = "-")]
    pub results: PathBuf,

    /// Skip jobs the journal already has a record for, and append the new
    /// records. A job is known by its text (task and arguments) and, among
    /// identical lines, by their order, not by its line number: lines
    /// inserted or deleted elsewhere run nothing again. Needs -o FILE.
    #[arg(long)]
    pub resume: bool,

    /// Like --resume, but also rerun jobs whose latest record is not ok.
    #[arg(long, conflicts_with = "resume")]
    pub resume_failed: bool,

    /// Overwrite an existing journal instead of refusing.
    #[arg(long, conflicts_with_all = ["resume", "resume_failed"])]
    pub overwrite: bool,

    /// The worker program. Default: supervisor-worker beside this executable.
    #[arg(long, value_name = "PATH", env = "PROCMAP_WORKER")]
    pub worker: Option<PathBuf>,

    /// Run the `@procmap.task` functions of this Python file: each worker
    /// is `python3 -m procmap._worker --tasks FILE` (the interpreter from
    /// PROCMAP_PYTHON, else python3 on PATH; it needs the procmap package,
    /// `pip install ./python`). Each job line is `TASK ARG...`, the
    /// arguments are strings, the value is the function's return as JSON.
    #[arg(long, value_name = "FILE", conflicts_with = "worker")]
    pub python: Option<PathBuf>,

    /// Rerun a job that killed its worker up to N times before recording it
    /// as crashed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETRIES)]
    pub retries: u32,

    /// Stop a batch that is clearly broken, as GNU parallel's --halt:
    /// WHEN,CONDITION with WHEN `soon` (stop dispatching, let jobs in flight
    /// finish) or `now` (kill them), CONDITION `fail=N` (N jobs not ok),
    /// `fail=P%` (P% of finished jobs not ok, once 20 have finished) or
    /// `success=N`. The journal keeps what ran; `--resume` continues. Exit
    /// code 4.
    #[arg(long, value_name = "WHEN,CONDITION")]
    pub halt: Option<procmap_batch::halt::Policy>,

    /// Kill a job running longer than this (500ms, 30s, 2m, 1h) and record it
    /// as timeout. Process mode only.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Cap each worker's memory (512M, 2G); a job that needs more is
    /// recorded as crashed, out of memory. Process mode only.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub mem_limit: Option<u64>,

    /// Replace each worker after N jobs (for leaky native code).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tasks_per_child: Option<u64>,

    /// After the first Ctrl-C, how long jobs in flight may finish.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_GRACE, value_parser = parse_duration)]
    pub grace: Duration,

    /// Where tasks write outputs that a job does not name.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT_DIR)]
    pub out_dir: PathBuf,

    /// Let jobs write outputs outside --out-dir.
    #[arg(long)]
    pub allow_outside: bool,

    /// What becomes of what each job writes to its stdout and stderr.
    /// `tail`: the last 4 KiB of each go into the job's record as `stdout`
    /// and `stderr` (omitted when empty). `files=DIR`: all of it goes to
    /// DIR/LINE.out and DIR/LINE.err (LINE is the job's line number; a
    /// rerun replaces them; an empty stream leaves no file; DIR is
    /// created). `none`: each line a worker writes is shown on stderr as
    /// `[worker PID] line`, control characters escaped. Default: `tail` in
    /// process mode with one thread per worker; `none` in thread, serial
    /// and hybrid mode (--threads above 1), where jobs share one stdout
    /// and stderr, and where `tail` and `files` are refused. Whatever the
    /// mode, a crashed job's record keeps the end of its worker's stderr.
    #[arg(long, value_name = "none|tail|files=DIR")]
    pub capture: Option<procmap::wire::Capture>,

    /// A progress bar on stderr: done/total, rate, ETA, failures.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,

    /// No progress and no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Log what the pool does on stderr (-vv for more); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Run only the jobs whose identity (text and occurrence, not line
    /// number) hashes to shard I of N, 0-based; the other jobs are read
    /// and skipped. `auto` takes I and N from a Slurm job array
    /// (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT)
    /// or, with --shards N, from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I/N|auto", value_parser = procmap_batch::shard::parse_shard, help_heading = "Sharding")]
    pub shard: Option<procmap_batch::shard::ShardArg>,

    /// The number of shards, for --shard auto. With it a Slurm array task
    /// id is the shard index itself, so a resubmitted subset (--array=3,7)
    /// runs shards 3 and 7.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Sharding")]
    pub shards: Option<u32>,

    /// With --shard: write the journal to DIR/journal/shard-IIII-of-NNNN.jsonl
    /// (instead of -o), and record the batch in DIR/run.json for `supervisor
    /// status DIR` and `supervisor merge DIR`.
    #[arg(long, value_name = "DIR", conflicts_with = "results", help_heading = "Sharding")]
    pub run_dir: Option<PathBuf>,
}

impl RunArgs {
    /// A run of `jobs` with every option at its default, as if given
    /// alone on the command line (but for the environment, which is not
    /// read): for runs that a command starts itself.
    pub fn new(jobs: PathBuf) -> Self {
        RunArgs {
            jobs: Some(jobs),
            procs: None,
            chunksize: Chunking::Auto,
            threads: 1,
            mode: ModeArg::Process,
            task: None,
            results: PathBuf::from("-"),
            resume: false,
            resume_failed: false,
            overwrite: false,
            worker: None,
            python: None,
            retries: DEFAULT_RETRIES,
            halt: None,
            timeout: None,
            mem_limit: None,
            max_tasks_per_child: None,
            grace: parse_duration(DEFAULT_GRACE).expect("the default grace is a duration"),
            out_dir: PathBuf::from(DEFAULT_OUT_DIR),
            allow_outside: false,
            capture: None,
            progress: ProgressArg::Auto,
            quiet: false,
            verbose: 0,
            shard: None,
            shards: None,
            run_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Alone {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn new_has_the_defaults_of_the_command_line() {
        let mut parsed = Alone::try_parse_from(["supervisor", "jobs.txt"]).unwrap().run;
        // Read from the environment (SLURM_CPUS_PER_TASK, PROCMAP_WORKER),
        // which `new` leaves alone.
        (parsed.procs, parsed.worker) = (None, None);
        assert_eq!(format!("{parsed:?}"), format!("{:?}", RunArgs::new("jobs.txt".into())));
    }
}
