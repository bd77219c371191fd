//! `--shard`, `--shards` and `--run-dir` resolved for one run: which shard
//! it runs, and which journal it writes.

use anyhow::{Context as _, bail};
use procmap_batch::rundir::{Manifest, RunDir, absolute};
use procmap_batch::shard::{Shard, ShardArg, resolve};
use std::path::{Path, PathBuf};

/// The shard a run runs and the journal it writes.
pub struct ShardPlan {
    pub shard: Shard,
    /// The shard's journal in the run directory; `None`: the run's own
    /// `--results`.
    pub journal: Option<PathBuf>,
}

/// Resolves the shard (from `--shard`, or the scheduler's environment for
/// `auto`) and, with `--run-dir`, joins the run directory: `run.json` is
/// written by the first shard and checked by every later one.
pub fn plan(
    arg: Option<ShardArg>,
    shards: Option<u32>,
    run_dir: Option<&Path>,
    jobs: Option<&Path>,
    task: Option<&str>,
) -> anyhow::Result<Option<ShardPlan>> {
    let Some(arg) = arg else {
        if shards.is_some() || run_dir.is_some() {
            bail!("--shards and --run-dir belong to a sharded run: add --shard I/N or --shard auto");
        }
        return Ok(None);
    };
    let shard = resolve(arg, shards, |name| std::env::var(name).ok())?;
    let mut journal = None;
    if let Some(dir) = run_dir {
        let jobs = jobs.unwrap_or(Path::new("-"));
        if jobs == Path::new("-") {
            bail!("--run-dir needs a jobs file, not standard input: status and merge read it again");
        }
        // Before run.json names it: a typo would leave a run directory
        // that refuses the corrected command.
        std::fs::File::open(jobs).with_context(|| format!("cannot read jobs file {}", jobs.display()))?;
        let manifest = Manifest::new(absolute(jobs)?, task.map(str::to_owned), shard.count);
        let run = RunDir::new(dir);
        run.join(&manifest)?;
        journal = Some(run.journal(shard));
    }
    Ok(Some(ShardPlan { shard, journal }))
}
