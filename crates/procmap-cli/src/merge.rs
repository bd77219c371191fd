//! `supervisor merge DIR -o all.jsonl`: the shard journals of a batch as one
//! journal, one record per job, as if one machine had run it.
//!
//! Each job's latest record wins, copied byte for byte, so that fields this
//! version does not know survive. Records come out in jobs-file order. The
//! result is an ordinary journal: `supervisor --resume -o all.jsonl JOBS`
//! on one machine runs only what is still missing.

use crate::run::exit;
use anyhow::{Context as _, bail};
use clap::Args;
use procmap_batch::journal::Header;
use procmap_batch::ledger::{Latest, Ledger, Sources};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  supervisor merge run/ -o all.jsonl
  supervisor --resume -o all.jsonl jobs.txt      # finish the rest on one machine
  supervisor merge --jobs jobs.txt -o all.jsonl a.jsonl b.jsonl")]
pub struct MergeArgs {
    /// A run directory, or journals (see `supervisor status --help`).
    #[arg(required = true, value_name = "DIR|JOURNAL")]
    pub paths: Vec<PathBuf>,
    /// The merged journal.
    #[arg(short = 'o', long = "output", value_name = "PATH", required = true)]
    pub output: PathBuf,
    /// Replace an existing output instead of refusing.
    #[arg(long)]
    pub overwrite: bool,
    /// The jobs file, to order records and drop those of jobs no longer in
    /// it. Default: the run directory's.
    #[arg(long, value_name = "FILE")]
    pub jobs: Option<PathBuf>,
    /// With --jobs: every line is the arguments of task NAME.
    #[arg(short, long, value_name = "NAME", requires = "jobs")]
    pub task: Option<String>,
}

pub fn run(args: &MergeArgs) -> anyhow::Result<u8> {
    if !args.overwrite && std::fs::metadata(&args.output).is_ok_and(|m| m.len() > 0) {
        bail!("{} already exists: add --overwrite to replace it", args.output.display());
    }
    let sources = Sources::from_paths(&args.paths, args.jobs.as_deref(), args.task.as_deref())?;
    if sources.journals.iter().any(|s| same_file(&s.path, &args.output)) {
        bail!("{} is one of the journals being merged: write the merge elsewhere", args.output.display());
    }
    let ledger = Ledger::load(sources)?;
    let (records, missing) = winners(&ledger);

    // Written beside the output and renamed: a merge that fails halfway
    // leaves the previous output, not half of a new one.
    let dir = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
        serde_json::to_writer(&mut out, &Header::new("supervisor merge"))?;
        out.write_all(b"\n")?;
        for (latest, line) in &records {
            out.write_all(&ledger.record(latest, *line)?)?;
        }
        out.flush().with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    tmp.persist(&args.output).with_context(|| format!("cannot write {}", args.output.display()))?;

    let not_ok = records.iter().filter(|(l, _)| l.status != procmap::Status::Ok).count();
    eprintln!(
        "supervisor merge: {} records from {} journal(s) into {}; {} not ok{}",
        records.len(),
        ledger.sources.journals.len(),
        args.output.display(),
        not_ok,
        match missing {
            Some(0) => String::new(),
            Some(n) => format!("; {n} jobs have no record yet"),
            None => " (no jobs file: missing jobs not counted)".to_owned(),
        }
    );
    Ok(exit::OK)
}

/// The latest record of each job with its line in the jobs file now, in
/// jobs-file order (journal order, lines as recorded, without a jobs file),
/// and how many jobs have none.
fn winners(ledger: &Ledger) -> (Vec<(Latest, Option<u64>)>, Option<u64>) {
    match &ledger.expected {
        Some(expected) => {
            let mut missing = 0;
            let mut records = Vec::with_capacity(ledger.latest.len());
            for job in expected.iter().filter(|job| ledger.source_of(&job.id).is_some()) {
                match ledger.latest.get(&job.id) {
                    Some(latest) => records.push((*latest, Some(job.line))),
                    None => missing += 1,
                }
            }
            (records, Some(missing))
        }
        None => {
            let mut records: Vec<(Latest, Option<u64>)> =
                ledger.latest.values().map(|l| (*l, None)).collect();
            records.sort_by_key(|(l, _)| (l.journal, l.offset));
            (records, None)
        }
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}
