//! `supervisor slurm resubmit DIR [--failed]`: the unfinished shards again.

use crate::exit;
use anyhow::bail;
use clap::Args;
use procmap_batch::ledger::{Ledger, Sources};
use procmap_batch::rundir::RunDir;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "\
Each resubmitted task resumes its shard journal, so no job already recorded
runs again (with --failed, only jobs recorded ok are skipped). Resubmit once
the array has ended: a task started while the same shard still runs stops at
once, because its journal is locked.

Examples:
  supervisor slurm resubmit slurm-jobs                 # e.g. sbatch --array=3,7
  supervisor slurm resubmit slurm-jobs --failed -- --time=4:00:00")]
pub struct ResubmitArgs {
    /// The run directory `slurm submit` made.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Also rerun the jobs whose latest record is not ok (error, crashed,
    /// timeout), in every shard that has one.
    #[arg(long)]
    pub failed: bool,
    /// Print the sbatch command, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit even though an earlier submission of DIR is still queued or
    /// running.
    #[arg(long)]
    pub force: bool,
    /// Extra sbatch options for this submission only.
    #[arg(last = true, value_name = "SBATCH OPTIONS")]
    pub sbatch: Vec<String>,
}

pub fn run(args: &ResubmitArgs) -> anyhow::Result<u8> {
    let run = RunDir::new(procmap_batch::rundir::absolute(&args.dir)?);
    let manifest = run.read_manifest()?;
    let Some(mut plan) = manifest.slurm.clone() else {
        bail!(
            "{} was not made by `supervisor slurm submit`: rerun a shard with `supervisor --shard I/{} --run-dir {} --resume JOBS`",
            run.path.display(),
            manifest.shards,
            run.path.display()
        );
    };
    if !args.force {
        let active = super::sbatch::still_active(&run);
        if !active.is_empty() {
            let ids = active.join(",");
            bail!(
                "job {ids} of {} is still queued or running, and its shards would be counted unfinished: \
                 wait for it (squeue -j {ids}) or cancel it (scancel {ids}), then resubmit; --force submits anyway",
                run.path.display()
            );
        }
    }
    plan.sbatch.extend(args.sbatch.iter().cloned());
    let ledger = Ledger::load(Sources::from_paths(std::slice::from_ref(&run.path), None, None)?)?;
    let report = crate::status::report(&ledger, 0)?;
    let shards = report.incomplete_shards(args.failed);
    if shards.is_empty() {
        let what = if args.failed {
            "every job has an ok record"
        } else {
            "every job has a record (--failed reruns those not ok)"
        };
        say!("nothing to resubmit: {what}");
        return Ok(exit::OK);
    }
    let array = array_spec(&shards);
    let name =
        manifest.jobs.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "jobs".into());
    let script_args: &[&str] = if args.failed { &["--resume-failed"] } else { &[] };
    let argv = super::sbatch::command(&run, &format!("procmap-{name}"), &plan, &array, script_args);
    if args.dry_run {
        tell!("{}", shell_words::join(&argv));
        return Ok(exit::OK);
    }
    let job = super::sbatch::submit(&run, &argv)?;
    tell!("{job}");
    say!(
        "submitted job {job}: shards {array} ({} jobs missing, {} not ok)",
        report.total.missing,
        report.total.not_ok()
    );
    super::next_steps::print_next_steps(&run.path, &job);
    Ok(exit::OK)
}

/// sbatch's `--array` list for sorted task ids, runs as ranges: `0-2,7`.
fn array_spec(ids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", ids[i], ids[j]) } else { ids[i].to_string() });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn array_lists_use_ranges() {
        assert_eq!(super::array_spec(&[3, 7]), "3,7");
        assert_eq!(super::array_spec(&[0, 1, 2, 3, 5, 8, 9]), "0-3,5,8-9");
    }
}
