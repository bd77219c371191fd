//! What to type next, after a submission.

/// Commands to watch, finish and merge the run in `dir`.
pub fn print_next_steps(dir: &std::path::Path, job: &str) {
    let dir = shell_words::quote(&dir.to_string_lossy()).into_owned();
    say!("next:");
    say!("  squeue -j {job}                          # the array's tasks");
    say!("  supervisor status {dir}          # jobs by status per shard; exit 0 when all are ok");
    say!("  supervisor slurm resubmit {dir}  # once it has ended: shards with missing jobs again");
    say!("  supervisor merge {dir} -o all.jsonl   # one record per job");
}
