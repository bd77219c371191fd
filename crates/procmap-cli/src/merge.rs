//! `supervisor merge DIR -o all.jsonl`: the shard journals of a batch as one
//! journal, one record per job, as if one machine had run it.
//!
//! Each job's latest record wins, copied byte for byte but for its line (the
//! job's line in the jobs file now) and its occurrence, so that fields this
//! version does not know survive. Records come out in jobs-file order. The
//! result is an ordinary journal: `supervisor --resume -o all.jsonl JOBS`
//! on one machine runs only what is still missing.

use crate::exit;
use crate::stdout::DataError;
use anyhow::{Context as _, bail};
use clap::Args;
use procmap_batch::journal::Header;
use procmap_batch::ledger::{Latest, Ledger, Sources};
use procmap_batch::source::same_file;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  supervisor merge run/ -o all.jsonl
  supervisor --resume -o all.jsonl jobs.txt      # finish the rest on one machine
  supervisor merge --jobs jobs.txt -o all.jsonl a.jsonl b.jsonl
  supervisor merge run/ -o - | jq -c 'select(.status != \"ok\")'

Exit codes: 0 merged; 2 unreadable run directory, journal or jobs file, or an
output that cannot be written; 3 -o - and stdout could not take every record
(closed, or its reader went away).")]
pub struct MergeArgs {
    /// A run directory, or journals (see `supervisor status --help`).
    #[arg(required = true, value_name = "DIR|JOURNAL")]
    pub paths: Vec<PathBuf>,
    /// The merged journal; - for standard output.
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
    let to_stdout = args.output == Path::new("-");
    let sources = Sources::from_paths(&args.paths, args.jobs.as_deref(), args.task.as_deref())?;
    if !to_stdout {
        check_output(&args.output, &sources)?;
        if !args.overwrite && std::fs::metadata(&args.output).is_ok_and(|m| m.len() > 0) {
            bail!("{} already exists: add --overwrite to replace it", args.output.display());
        }
    }
    let ledger = Ledger::load(sources)?;
    let (records, missing) = winners(&ledger);

    if to_stdout {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
        copy_records(&ledger, &records, &mut out, |e| DataError::new("the merged journal", e).into())?;
    } else {
        write_file(&args.output, &ledger, &records)?;
    }

    let into = if to_stdout { "stdout".to_owned() } else { args.output.display().to_string() };
    say!("{}", summary(&records, ledger.sources.journals.len(), &into, missing));
    Ok(exit::OK)
}

/// What the merge says on stderr when it is done.
fn summary(records: &[(Latest, Option<u64>)], journals: usize, into: &str, missing: Option<u64>) -> String {
    let not_ok = records.iter().filter(|(l, _)| l.status != procmap::Status::Ok).count();
    let missing = match missing {
        Some(0) => String::new(),
        Some(n) => format!("; {n} jobs have no record yet"),
        None => " (no jobs file: missing jobs not counted)".to_owned(),
    };
    format!(
        "supervisor merge: {} records from {journals} journal(s) into {into}; {not_ok} not ok{missing}",
        records.len()
    )
}

/// The directory a file is written to: a bare name's is the current one.
fn dir_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Writes the merge beside `output` and renames it: a merge that fails
/// halfway leaves the previous output, not half of a new one.
fn write_file(output: &Path, ledger: &Ledger, records: &[(Latest, Option<u64>)]) -> anyhow::Result<()> {
    let cannot = || format!("cannot write {}", output.display());
    let dir = dir_of(output);
    // A temporary file is private (0600); the merge is a journal like the
    // shards', readable as the umask allows.
    let mut tmp = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666 & !umask()))
        .tempfile_in(dir)
        .with_context(cannot)?;
    {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
        copy_records(ledger, records, &mut out, |e| anyhow::Error::new(e).context(cannot()))?;
    }
    tmp.persist(output).with_context(cannot)?;
    Ok(())
}

/// The process's file-creation mask, which can only be read by setting it.
fn umask() -> u32 {
    // SAFETY: umask has no preconditions; the mask is restored at once, and
    // merge creates no files on other threads meanwhile.
    let mask = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(mask) };
    mask
}

/// Writes a header, then each job's record as a journal of the whole batch
/// has it (its line now and its occurrence, see `Ledger::record`), and
/// flushes; `write_error` says what a failed write means for this output.
fn copy_records(
    ledger: &Ledger,
    records: &[(Latest, Option<u64>)],
    out: &mut impl Write,
    write_error: impl Fn(std::io::Error) -> anyhow::Error,
) -> anyhow::Result<()> {
    let mut header = serde_json::to_vec(&Header::new("supervisor merge"))?;
    header.push(b'\n');
    out.write_all(&header).map_err(&write_error)?;
    for (latest, line) in records {
        out.write_all(&ledger.record(latest, *line)?).map_err(&write_error)?;
    }
    out.flush().map_err(&write_error)
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

/// Refuses an output that the merge would destroy rather than write: one of
/// the batch's own files (a journal being merged, the jobs file, run.json),
/// or something that is not a regular file (writing the merge beside it and
/// renaming would replace a symlink, a FIFO or a device with a file).
fn check_output(output: &Path, sources: &Sources) -> anyhow::Result<()> {
    let shown = output.display();
    if sources.journals.iter().any(|s| same_file(&s.path, output)) {
        bail!("{shown} is one of the journals being merged: write the merge elsewhere");
    }
    if let Some((jobs, _)) = &sources.jobs
        && same_file(jobs, output)
    {
        bail!(
            "{shown} is the jobs file: writing the merge there would destroy the jobs; name another output"
        );
    }
    if let Some(dir) = &sources.run_dir
        && same_file(&procmap_batch::rundir::RunDir::new(dir).manifest_path(), output)
    {
        bail!("{shown} is the run directory's run.json: name another output");
    }
    if let Ok(meta) = std::fs::symlink_metadata(output) {
        let kind = meta.file_type();
        let what = if kind.is_symlink() {
            Some("a symbolic link")
        } else if kind.is_dir() {
            Some("a directory")
        } else if !kind.is_file() {
            Some("not a regular file (a FIFO, a socket or a device)")
        } else {
            None
        };
        if let Some(what) = what {
            bail!("{shown} is {what}: merge writes a regular file; name one, or -o - for standard output");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
