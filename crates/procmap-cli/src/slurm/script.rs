//! The batch script every array task runs, written where the user can read
//! it (and run one shard of it by hand).

use std::path::Path;

use procmap_batch::rundir::SCRIPT;

pub struct Script<'a> {
    pub supervisor: &'a Path,
    /// Where `submit` ran: relative paths in the jobs file and the options
    /// mean the same on every node.
    pub workdir: &'a Path,
    pub run_dir: &'a Path,
    pub shards: u32,
    pub jobs: &'a Path,
    /// The options of every shard's run, as `RunArgs::shard_options`
    /// renders those given to `submit`.
    pub options: &'a [String],
}

impl Script<'_> {
    pub fn render(&self) -> String {
        let q = |p: &Path| shell_words::quote(&p.to_string_lossy()).into_owned();
        let dir = q(self.run_dir);
        let last = self.shards - 1;
        let options = if self.options.is_empty() {
            String::new()
        } else {
            format!("  {} \\\n", shell_words::join(self.options))
        };
        format!(
            "#!/bin/bash
# One shard of a procmap batch per Slurm array task, written by
# `supervisor slurm submit`. Array task I (0 to {last}) runs the jobs of
# {jobs} whose identity hashes to shard I of {n}, and appends their
# records to {dir}/journal/shard-IIII-of-{n:04}.jsonl. A task that runs
# again resumes its shard: jobs already recorded are skipped.
#
#   progress:        supervisor status {dir}
#   after it ends:   supervisor slurm resubmit {dir}    # shards with missing jobs
#                    supervisor merge {dir} -o all.jsonl
#   one shard here:  SLURM_ARRAY_TASK_ID=3 bash {dir}/{SCRIPT}
set -euo pipefail
cd {workdir}
# --resume, or what `slurm resubmit` passes (--resume-failed with --failed).
exec {supervisor} --shard auto --shards {n} --run-dir {dir} \"${{1:---resume}}\" \\
{options}  {jobs}
",
            jobs = q(self.jobs),
            n = self.shards,
            workdir = q(self.workdir),
            supervisor = q(self.supervisor),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_one_shard_of_the_batch_and_quotes_paths() {
        let options =
            vec!["--timeout".to_owned(), "30s".to_owned(), "--out-dir".to_owned(), "my png".to_owned()];
        let text = Script {
            supervisor: Path::new("/opt/procmap/supervisor"),
            workdir: Path::new("/home/me/data set"),
            run_dir: Path::new("/scratch/run"),
            shards: 16,
            jobs: Path::new("/home/me/jobs.txt"),
            options: &options,
        }
        .render();
        assert!(text.starts_with("#!/bin/bash\n"));
        assert!(text.contains("cd '/home/me/data set'\n"), "{text}");
        assert!(
            text.contains("exec /opt/procmap/supervisor --shard auto --shards 16 --run-dir /scratch/run \"${1:---resume}\" \\\n  --timeout 30s --out-dir 'my png' \\\n  /home/me/jobs.txt\n"),
            "{text}"
        );
    }
}
