//! The command line assembled: `supervisor [OPTIONS] JOBS` and its
//! subcommands, each of which owns its arguments in its own module. This
//! file only puts them together, dispatches, and maps the outcome to an
//! exit code.

use crate::exit;
use crate::run::args::RunArgs;
use clap::{Parser, Subcommand};
use procmap::Registry;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Each line of JOBS is one job, `TASK ARG...`, split like shell words; blank
lines and lines starting with # are skipped. A job is known by its text and,
among identical lines, their order; its record also names its line number.
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
4 halted by --halt (rerun with --resume to finish);
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
    Tasks(crate::tasks::TasksArgs),
    /// Make a synthetic EuroSAT data set and its jobs file, and run it.
    Demo(crate::demo::DemoArgs),
    /// Print a jobs file: one `TASK PATH` line for every file matching GLOB.
    Jobs(crate::jobs::JobsArgs),
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
    /// One self-contained HTML page of a run: each worker's timeline,
    /// throughput, busy workers, counts, slowest jobs and failures.
    Report(crate::report::ReportArgs),
    /// Run a batch as a Slurm job array, one shard per array task.
    // Boxed: with every option of a run inside, it is far bigger than
    // the other commands.
    #[command(subcommand)]
    Slurm(Box<crate::slurm::SlurmCommand>),
}

/// The `supervisor` binary, with the built-in tasks of `registry` available
/// for thread and serial modes and for checking arguments before dispatch.
pub fn main(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::SETUP } else { exit::OK });
        }
    };
    init_tracing(cli.run.verbose);
    let result = match cli.command {
        Some(Command::Tasks(args)) => crate::tasks::run(&args, registry),
        Some(Command::Compare(args)) => crate::compare::run(args),
        Some(Command::Jobs(args)) => crate::jobs::run(&args),
        Some(Command::Demo(args)) => crate::demo::run(&args, registry),
        Some(Command::Status(args)) => crate::status::run(&args),
        Some(Command::Merge(args)) => crate::merge::run(&args),
        Some(Command::Report(args)) => crate::report::run(&args).map_err(anyhow::Error::from),
        Some(Command::Slurm(command)) => crate::slurm::run(*command, &registry),
        None => crate::run::run(cli.run, registry),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            say!("supervisor: {e:#}");
            ExitCode::from(exit::of_error(&e))
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "procmap=info,procmap_cli=info",
        _ => "procmap=debug,procmap_cli=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
