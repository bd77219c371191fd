//! `supervisor demo` and `supervisor jobs`: make a data set and a jobs file,
//! so that a first run needs nothing but a fresh clone.

use anyhow::{Context as _, bail};
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
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// The task of every job, e.g. eurosat-rgb.
    #[arg(value_name = "TASK")]
    pub task: String,
    /// Files to make jobs for; quote the patterns so that the shell leaves
    /// them alone, e.g. 'EuroSAT/*/*.tif' (seed 001's glob).
    #[arg(value_name = "GLOB", required = true)]
    pub globs: Vec<String>,
    /// Name each job's output explicitly as DIR/<file stem>.png.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Writes the tiles and `jobs.txt`; returns the jobs file's path.
pub fn make_demo(args: &DemoArgs) -> anyhow::Result<PathBuf> {
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

/// The arguments of the run that `supervisor demo` starts.
pub fn demo_run_argv(args: &DemoArgs, jobs: &Path) -> Vec<String> {
    let dir = &args.dir;
    vec![
        "supervisor".into(),
        "--out-dir".into(),
        dir.join("png").to_string_lossy().into_owned(),
        "-o".into(),
        dir.join("results.jsonl").to_string_lossy().into_owned(),
        "--overwrite".into(),
        jobs.to_string_lossy().into_owned(),
    ]
}

pub fn print_next_steps(args: &DemoArgs, jobs: &Path) {
    let dir = &args.dir;
    say!("supervisor demo:");
    say!("  tiles     {}", dir.join("eurosat").display());
    say!("  jobs      {}", jobs.display());
    if !args.no_run {
        say!("  PNGs      {}", dir.join("png").display());
        say!("  journal   {}", dir.join("results.jsonl").display());
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

/// `supervisor jobs`: one `TASK PATH` line per matching file, sorted.
pub fn print_jobs(args: &JobsArgs) -> anyhow::Result<u8> {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for pattern in &args.globs {
        let mut paths: Vec<PathBuf> = glob::glob(pattern)
            .with_context(|| format!("bad pattern {pattern:?}"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if paths.is_empty() {
            bail!("no file matches {pattern:?}");
        }
        paths.sort();
        for path in paths {
            let input = shell_words::quote(&path.to_string_lossy()).into_owned();
            let line = match &args.out_dir {
                None => format!("{} {input}", args.task),
                Some(dir) => {
                    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                    let output = dir.join(format!("{stem}.png"));
                    let output = shell_words::quote(&output.to_string_lossy()).into_owned();
                    match args.task.as_str() {
                        "resize" => format!("{} {input} --save {output}", args.task),
                        "info" => format!("{} {input}", args.task),
                        _ => format!("{} {input} {output}", args.task),
                    }
                }
            };
            if let Err(e) = writeln!(stdout, "{line}") {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(0);
                }
                return Err(e.into());
            }
        }
    }
    stdout.flush().or_else(|e| if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })?;
    Ok(0)
}
