//! `supervisor compare`: the same jobs in several configurations, measured
//! one after another, as a table (seed 000's "Table 2"), a CSV and a chart.
//!
//! This file holds the arguments and the order of work; [`plan`] lists the
//! configurations, [`measure`] runs one, [`results`] derives the numbers
//! that [`table`], [`csv`] and [`chart`] present.

mod chart;
mod csv;
mod interrupt;
mod measure;
mod plan;
mod results;
mod table;

use crate::exit;
use crate::run::args::parse_chunksize;
use anyhow::{Context as _, bail};
use clap::Args;
use interrupt::Interrupt;
use measure::{Outcome, Runner};
use plan::ModeChoice;
use procmap::Chunking;
use results::{Results, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AFTER_HELP: &str = "\
Each configuration is a separate `supervisor` run of JOBS (with -q, a journal
and --out-dir in a scratch directory that is removed at the end, and
--allow-outside), timed from start to exit. serial runs once, whatever
--procs and --chunksizes say; thread and process run every procs × chunksize
pair; hybrid is process mode with --threads threads in each worker; auto is
--mode auto, which picks the threads itself (its threads column says 1). cpu
ms/job is the CPU time (user and system) of the whole run, supervisor and
workers, per job: near the wall time per worker for CPU-bound jobs, far below
for jobs that wait. Jobs that
fail count like the others and show in the failed column; a run that cannot
start, is interrupted, or records a different number of jobs than the first
stops the comparison.

speedup = serial wall time ÷ wall time, and efficiency = speedup ÷ (procs ×
threads), so both need serial among --modes; without it those columns are
`-` (empty in the CSV) and the chart has no speedup panel.

Writes DIR/results.csv (the table's columns, full precision, every run's wall
time) and DIR/report.svg (jobs/s per configuration; speedup vs workers with
the ideal). Exit codes: 0 measured, no job failed; 1 measured, some job
failed; 2 a run or the report failed; 130 interrupted.

Example:
  supervisor compare --modes serial,process,hybrid --procs 1,2,4 --chunksizes 1,16,auto jobs.txt";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompareArgs {
    /// The jobs file to run in every configuration.
    #[arg(value_name = "JOBS")]
    pub jobs: PathBuf,

    /// Modes to measure, comma-separated.
    #[arg(
        long,
        value_enum,
        value_name = "MODE,...",
        value_delimiter = ',',
        default_value = "serial,thread,process"
    )]
    pub modes: Vec<ModeChoice>,

    /// Worker processes (threads in thread mode) to try, comma-separated.
    /// Default: 1, 2, 4, … below the number of cores, and the number of cores.
    #[arg(
        short,
        long,
        value_name = "N,...",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub procs: Vec<u32>,

    /// Threads per worker process in hybrid mode.
    #[arg(long, value_name = "T", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,

    /// Chunksizes to try (numbers or auto), comma-separated.
    #[arg(
        short,
        long,
        value_name = "N|auto,...",
        value_delimiter = ',',
        default_value = "auto",
        value_parser = parse_chunksize
    )]
    pub chunksizes: Vec<Chunking>,

    /// Run each configuration N times and report the best (shortest) run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Where to write report.svg and results.csv.
    #[arg(long, value_name = "DIR", default_value = "compare-report")]
    pub report: PathBuf,

    /// Every line is the arguments of task NAME (passed to each run).
    #[arg(short, long, value_name = "NAME")]
    pub task: Option<String>,

    /// The worker program (passed to each run). Default: supervisor-worker
    /// beside this executable.
    #[arg(long, value_name = "PATH")]
    pub worker: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    measure::check_jobs_file(&args.jobs)?;
    let procs = if args.procs.is_empty() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        plan::default_procs(u32::try_from(cores).unwrap_or(u32::MAX))
    } else {
        args.procs.clone()
    };
    let configs = plan::plan(&args.modes, &procs, &args.chunksizes, args.threads);
    if configs.is_empty() {
        bail!("nothing to compare: --modes, --procs and --chunksizes must each name at least one value");
    }
    let exe = std::env::current_exe().context("cannot find the supervisor executable to run")?;
    let scratch = tempfile::Builder::new()
        .prefix("procmap-compare")
        .tempdir()
        .context("cannot create a scratch directory for the runs' journals and outputs")?;
    let interrupt = Interrupt::install()?;
    let runner = Runner {
        exe,
        jobs: &args.jobs,
        task: args.task.as_deref(),
        worker: args.worker.as_deref(),
        scratch: scratch.path(),
        interrupt: &interrupt,
    };

    let Some(rows) = measure_all(&runner, &configs, args.repeat)? else {
        say!("supervisor compare: interrupted; nothing written");
        return Ok(exit::INTERRUPTED);
    };
    if let Err(e) = scratch.close() {
        say!("supervisor compare: warning: cannot remove the scratch directory: {e}");
    }

    let jobs = rows.first().map_or(0, |r| r.jobs);
    let results = Results { rows, jobs, repeat: args.repeat };
    let subject = args.jobs.display().to_string();
    tell!("{}", table::render(&results, &subject).trim_end_matches('\n'));
    write_report(&args.report, &results, &subject)?;
    Ok(if results.any_failed() { exit::JOBS_FAILED } else { exit::OK })
}

/// Runs every configuration `repeat` times, with a progress line each on
/// stderr. `None` if the user interrupted.
fn measure_all(runner: &Runner, configs: &[plan::Config], repeat: u32) -> anyhow::Result<Option<Vec<Row>>> {
    let mut rows: Vec<Row> = Vec::with_capacity(configs.len());
    // The first run's job count and configuration: every run must record
    // as many jobs, or their times measure different work.
    let mut reference: Option<(usize, String)> = None;
    for (index, config) in configs.iter().enumerate() {
        say_part(&format!("[{}/{}] {} …", index + 1, configs.len(), config.describe()));
        let mut row = Row { config: *config, walls: Vec::new(), cpu: Duration::ZERO, jobs: 0, failed: 0 };
        for _ in 0..repeat {
            let run = match runner.run(index, config) {
                Ok(Outcome::Measured(run)) => run,
                Ok(Outcome::Interrupted) => {
                    say!(" interrupted");
                    return Ok(None);
                }
                Err(e) => {
                    say!(" failed");
                    return Err(e);
                }
            };
            say_part(&format!(" {}", seconds(run.wall)));
            let (expected, first) = reference.get_or_insert_with(|| (run.jobs, config.describe()));
            if run.jobs != *expected {
                say!();
                bail!(
                    "the {} run recorded {} jobs, but the first run ({first}) recorded {expected}; \
                     the runs did not do the same work{}",
                    config.describe(),
                    run.jobs,
                    run.stderr_tail
                );
            }
            if run.jobs == 0 {
                say!();
                bail!("{} has no jobs to measure", runner.jobs.display());
            }
            if row.walls.iter().all(|&w| run.wall < w) {
                row.failed = run.failed;
                row.cpu = run.cpu;
            }
            row.jobs = run.jobs;
            row.walls.push(run.wall);
        }
        if repeat > 1 {
            say_part(&format!(" (best {})", seconds(row.best())));
        }
        if row.failed > 0 {
            say_part(&format!(", {} of {} jobs failed", row.failed, row.jobs));
        }
        say!();
        rows.push(row);
    }
    Ok(Some(rows))
}

/// A piece of a progress line on stderr, best effort like `say!`: the
/// line grows as each run of a configuration ends.
fn say_part(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// A wall time for a progress line: milliseconds matter below a second.
fn seconds(wall: std::time::Duration) -> String {
    let secs = wall.as_secs_f64();
    if secs < 1.0 { format!("{secs:.3}s") } else { format!("{secs:.2}s") }
}

fn write_report(dir: &Path, results: &Results, subject: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create report directory {}", dir.display()))?;
    let csv_path = dir.join("results.csv");
    std::fs::write(&csv_path, csv::render(results))
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let svg_path = dir.join("report.svg");
    let svg = chart::render(results, subject)?;
    std::fs::write(&svg_path, svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    say!("supervisor compare: wrote {} and {}", svg_path.display(), csv_path.display());
    Ok(())
}
