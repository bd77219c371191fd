//! Running `sbatch` and reading the job id it answers.

use anyhow::{Context as _, bail};
use procmap_batch::rundir::{RunDir, SlurmPlan};
use std::io::Write as _;
use std::process::Command;

/// The sbatch command line for `array` (e.g. `0-15` or `3,7`) of the run
/// directory's batch script, which gets `script_args`.
pub fn command(run: &RunDir, name: &str, plan: &SlurmPlan, array: &str, script_args: &[&str]) -> Vec<String> {
    let array = match plan.max_running {
        Some(k) => format!("{array}%{k}"),
        None => array.to_owned(),
    };
    let mut argv = vec![
        "sbatch".to_owned(),
        "--parsable".to_owned(),
        format!("--array={array}"),
        format!("--cpus-per-task={}", plan.cpus_per_task),
        format!("--job-name={name}"),
        // %A is the array's job id, %4a the task's id zero-padded: every
        // submission keeps its own logs.
        format!("--output={}", run.log_pattern().display()),
    ];
    // The user's own options last, so that they win over ours.
    argv.extend(plan.sbatch.iter().cloned());
    argv.push(run.script().display().to_string());
    argv.extend(script_args.iter().map(|s| s.to_string()));
    argv
}

/// Runs `argv` (from [`command`]), logs it in the run directory, and
/// returns the job id.
pub fn submit(run: &RunDir, argv: &[String]) -> anyhow::Result<String> {
    std::fs::create_dir_all(run.logs()).with_context(|| format!("cannot create {}", run.logs().display()))?;
    let output = match Command::new(&argv[0]).args(&argv[1..]).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "sbatch not found on PATH: submit from a Slurm login node (the batch script is in {})",
                run.path.display()
            )
        }
        Err(e) => return Err(e).context("cannot run sbatch"),
    };
    if !output.status.success() {
        bail!(
            "sbatch failed ({}): {}\n  command: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            shell_words::join(argv)
        );
    }
    // --parsable prints `JOBID` or `JOBID;CLUSTER`.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job = stdout.trim().split(';').next().unwrap_or("").to_owned();
    if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
        bail!("sbatch answered {:?}, not a job id", stdout.trim());
    }
    let log = run.path.join("submissions.log");
    let line = format!("job {job}: {}\n", shell_words::join(argv));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .with_context(|| format!("job {job} is submitted, but {} cannot be written", log.display()))?;
    Ok(job)
}

/// The jobs of the run directory's earlier submissions that Slurm still
/// has queued or running. Empty when squeue cannot tell (not on PATH, or
/// the jobs are so old that Slurm has forgotten them).
pub fn still_active(run: &RunDir) -> Vec<String> {
    let log = std::fs::read_to_string(run.path.join("submissions.log")).unwrap_or_default();
    let ids: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("job ")?.split(':').next())
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    // %F: the array's job id, once per pending or running task.
    let output = Command::new("squeue").args(["-h", "-o", "%F", "-j", &ids.join(",")]).output();
    let Some(output) = output.ok().filter(|o| o.status.success()) else { return Vec::new() };
    let mut active: Vec<String> =
        String::from_utf8_lossy(&output.stdout).split_whitespace().map(str::to_owned).collect();
    active.sort();
    active.dedup();
    active
}
