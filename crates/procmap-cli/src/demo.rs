//! `supervisor demo`: make a synthetic data set and its jobs file, and run
//! it, so that a first run needs nothing but a fresh clone.

use crate::exit;
use crate::run::args::RunArgs;
use anyhow::Context as _;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many synthetic EuroSAT tiles to make (64×64, 13 bands, uint16).
    #[arg(long, default_value_t = 2700)]
    pub n: usize,
    /// Where to put the tiles, the jobs file, the PNGs and the journal.
    #[arg(long, default_value = "demo")]
    pub dir: PathBuf,
    /// Seed of the generator: the same seed gives the same tiles.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only make the tiles and the jobs file; do not run them.
    #[arg(long)]
    pub no_run: bool,
    /// Worker processes, as for a run (`supervisor --help`).
    #[arg(short, long, value_name = "N", env = "SLURM_CPUS_PER_TASK", value_parser = clap::value_parser!(u32).range(1..))]
    pub procs: Option<u32>,
    /// The worker program, as for a run.
    #[arg(long, value_name = "PATH", env = "PROCMAP_WORKER")]
    pub worker: Option<PathBuf>,
}

pub fn run(args: &DemoArgs, registry: procmap::Registry) -> anyhow::Result<u8> {
    let jobs = make_demo(args)?;
    let code = if args.no_run { exit::OK } else { crate::run::run(demo_run(args, &jobs), registry)? };
    if !args.no_run {
        // The run's picture; a report that cannot be written costs only itself.
        let journal = args.dir.join("results.jsonl");
        if let Err(e) = crate::report::write(&[journal], &args.dir.join("report.html")) {
            say!("supervisor demo: no report: {:#}", anyhow::Error::from(e));
        }
    }
    print_next_steps(args, &jobs);
    Ok(code)
}

/// Writes the tiles and `jobs.txt`; returns the jobs file's path.
fn make_demo(args: &DemoArgs) -> anyhow::Result<PathBuf> {
    let tiles = args.dir.join("eurosat");
    say!("supervisor demo: writing {} synthetic EuroSAT tiles to {}", args.n, tiles.display());
    let paths = procmap_images::synth::generate_dataset(&tiles, args.n, args.seed)
        .with_context(|| format!("cannot write tiles to {}", tiles.display()))?;
    let jobs = args.dir.join("jobs.txt");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&jobs).with_context(|| format!("cannot write {}", jobs.display()))?,
    );
    writeln!(out, "# {} EuroSAT-like tiles → RGB PNG (seed 001), made by `supervisor demo`", paths.len())?;
    for path in &paths {
        writeln!(out, "eurosat-rgb {}", shell_words::quote(&path.to_string_lossy()))?;
    }
    out.flush()?;
    Ok(jobs)
}

/// The run that `supervisor demo` starts: its tiles into PNGs, a journal
/// beside them.
fn demo_run(args: &DemoArgs, jobs: &Path) -> RunArgs {
    RunArgs {
        out_dir: args.dir.join("png"),
        results: args.dir.join("results.jsonl"),
        overwrite: true,
        procs: args.procs,
        worker: args.worker.clone(),
        ..RunArgs::new(jobs.to_path_buf())
    }
}

fn print_next_steps(args: &DemoArgs, jobs: &Path) {
    let dir = &args.dir;
    say!("supervisor demo:");
    say!("  tiles     {}", dir.join("eurosat").display());
    say!("  jobs      {}", jobs.display());
    if !args.no_run {
        say!("  PNGs      {}", dir.join("png").display());
        say!("  journal   {}", dir.join("results.jsonl").display());
        say!("  report    {}   (open it in a browser)", dir.join("report.html").display());
    }
    say!("next, e.g. compare modes, or rerun only failures:");
    say!("  supervisor compare {} --modes serial,thread,process", jobs.display());
    say!(
        "  supervisor --resume-failed -o {} --out-dir {} {}",
        dir.join("results.jsonl").display(),
        dir.join("png").display(),
        jobs.display()
    );
}
