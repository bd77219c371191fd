//! `supervisor jobs TASK GLOB...`: a jobs file for the files a pattern
//! matches, one `TASK PATH` line each.

use anyhow::{Context as _, bail};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

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

/// `supervisor jobs`: one `TASK PATH` line per matching file, sorted.
pub fn run(args: &JobsArgs) -> anyhow::Result<u8> {
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
