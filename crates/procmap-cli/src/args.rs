//! The command line.

use crate::units::{parse_duration, parse_size};
use clap::{Args, Parser, Subcommand, ValueEnum};
use procmap::Chunking;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Each line of JOBS is one job, `TASK ARG...`, split like shell words; blank
lines and lines starting with # are skipped; a job's id is its line number.
Every job gets one JSON line in the journal, in completion order:
  {\"line\":12,\"task\":\"cube\",\"args\":[\"7\"],\"status\":\"ok\",\"value\":343,\"attempts\":1,\"worker\":4242,\"ms\":0.004}
status is ok, error (the task failed or panicked, or the line is invalid),
crashed (the job killed its worker every time) or timeout.

Modes: process (default) isolates every job in worker processes: a segfault,
abort, exit or runaway allocation costs only that job. thread runs the same
tasks on threads of the supervisor: panics are caught, but a segfault or
abort there kills the whole run. serial runs jobs one by one, inline.

Ctrl-C (or SIGTERM, SIGHUP) once: no new jobs, jobs in flight finish for up
to --grace, exit 130. Twice: kill the workers. Three times: exit at once.
The journal is flushed at least every 100 ms; rerun with --resume to finish.
A jobs file named like a subcommand needs a path: ./jobs

Exit codes: 0 every job ok; 1 some job not ok; 2 usage or setup error;
3 the journal could not be written (full disk, closed or broken stdout);
130 interrupted (rerun with --resume to finish).

Examples:
  supervisor --procs 8 --chunksize 64 -o results.jsonl jobs.txt
  seq 1 1000 | supervisor --task cube -
  supervisor --timeout 30s --mem-limit 2G --resume -o results.jsonl jobs.txt
  supervisor demo                          # synthetic EuroSAT tiles → PNG
  supervisor jobs eurosat-rgb 'EuroSAT/*/*.tif' > jobs.txt
  supervisor tasks";

#[derive(Debug, Parser)]
#[command(
    name = "supervisor",
    version,
    about = "Run a batch of jobs on a pool of worker processes that survives whatever a job does",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every task with its arguments and one line of help.
    Tasks {
        /// List the tasks of this worker program instead (a custom worker's
        /// own tasks included), as it reports them when it starts.
        #[arg(long, value_name = "PATH", conflicts_with = "python")]
        worker: Option<std::path::PathBuf>,
        /// List the `@procmap.task` functions of this Python file instead.
        #[arg(long, value_name = "FILE")]
        python: Option<std::path::PathBuf>,
    },
    /// Make a synthetic EuroSAT data set and its jobs file, and run it.
    Demo(crate::demo::DemoArgs),
    /// Print a jobs file: one `TASK PATH` line for every file matching GLOB.
    Jobs(crate::demo::JobsArgs),
    /// Run the same jobs in several configurations and compare their speed
    /// (seed 000's "Table 2"), with a chart.
    Compare(crate::compare::CompareArgs),
    /// Jobs by status per shard and in total, the slowest shards and the
    /// failed lines of a run directory or of journals. Exit 0 only when
    /// every job has an ok record.
    Status(crate::status::StatusArgs),
    /// Write one journal with one record per job (the latest attempt) from
    /// a run directory's shard journals; `--resume` can continue from it.
    Merge(crate::merge::MergeArgs),
    /// Run a batch as a Slurm job array, one shard per array task.
    #[command(subcommand)]
    Slurm(crate::slurm::SlurmCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Worker processes: crash isolation.
    Process,
    /// Threads of the supervisor: no isolation from segfaults or aborts.
    Thread,
    /// One job after another, inline.
    Serial,
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

    /// Where jobs run.
    #[arg(long, value_enum, default_value_t = ModeArg::Process)]
    pub mode: ModeArg,

    /// Every line is the arguments of task NAME (like executor.map(fn, lines)).
    #[arg(short, long, value_name = "NAME")]
    pub task: Option<String>,

    /// The JSON Lines journal; - for standard output.
    #[arg(short = 'o', long = "results", value_name = "PATH", default_value = "-")]
    pub results: PathBuf,

    /// Skip jobs the journal already has a record for (same line number and
    /// same text); append the new records. Needs -o FILE.
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
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,

    /// Kill a job running longer than this (500ms, 30s, 2m) and record it
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
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub grace: Duration,

    /// Where tasks write outputs that a job does not name.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out_dir: PathBuf,

    /// Let jobs write outputs outside --out-dir.
    #[arg(long)]
    pub allow_outside: bool,

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
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Sharding")]
    pub shards: Option<u32>,

    /// With --shard: write the journal to DIR/journal/shard-IIII-of-NNNN.jsonl
    /// (instead of -o), and record the batch in DIR/run.json for `supervisor
    /// status DIR` and `supervisor merge DIR`.
    #[arg(
        long,
        value_name = "DIR",
        requires = "shard",
        conflicts_with = "results",
        help_heading = "Sharding"
    )]
    pub run_dir: Option<PathBuf>,
}
