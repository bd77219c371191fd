//! `supervisor slurm submit JOBS --shards N [...] [-- SBATCH OPTIONS]`.

use super::preflight::Check;
use super::script::{SCRIPT, Script};
use crate::exit;
use crate::run::args::RunArgs;
use anyhow::{Context as _, bail};
use clap::{Args, Parser};
use procmap_batch::rundir::{Manifest, RunDir, SlurmPlan, absolute};
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
JOBS comes first; after it, any option of a plain run (`supervisor --help`:
--timeout, --mem-limit, --retries, --task, --out-dir, --mode, …) is checked
here and passed to every shard; after `--`, options for sbatch (--partition,
--time, --account, …). -p N is the CPUs of each array task (sbatch
--cpus-per-task) and so its worker processes; default 1.

Before submitting, the whole jobs file is read once: jobs per shard, invalid
lines (each will be recorded as an error), and outputs that two lines would
both write, which are refused because shards on two nodes cannot see each
other's files. Then DIR gets run.json, batch.sh (what every array task runs:
read it), logs/ and journal/. The job id goes to stdout, the rest to stderr.
supervisor and supervisor-worker must be at the same path on every node.

Examples:
  supervisor slurm submit jobs.txt --shards 16 --max-running 8 -p 4 --timeout 5m -- --partition=cpu --time=2:00:00
  supervisor slurm submit jobs.txt --shards 4 --run-dir runs/tiles --dry-run";

#[derive(Debug, Args)]
#[command(
    after_help = AFTER_HELP,
    override_usage = "supervisor slurm submit JOBS --shards N [--max-running K] [--run-dir DIR] [OPTIONS] [-- SBATCH OPTIONS]"
)]
pub struct SubmitArgs {
    /// Split the batch into N shards: an array of N tasks, 0 to N-1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=9999))]
    pub shards: Option<u32>,
    /// Run at most K array tasks at once (sbatch --array=0-(N-1)%K).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_running: Option<u32>,
    /// Where the batch script, logs and shard journals go. Default:
    /// slurm-<jobs file name> in the current directory.
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Check and write everything, print the sbatch command, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The jobs file, then options of the run, then `--` and options for
    /// sbatch (see below).
    #[arg(
        value_name = "JOBS",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub rest: Vec<String>,
}

/// `rest` taken apart.
#[derive(Debug, Default, PartialEq)]
struct Parts {
    jobs: PathBuf,
    options: Vec<String>,
    sbatch: Vec<String>,
}

pub fn run(mut args: SubmitArgs, registry: &procmap::Registry) -> anyhow::Result<u8> {
    let parts = split(&mut args)?;
    let Some(shards) = args.shards else { bail!("say how many shards: --shards N") };
    if parts.jobs == Path::new("-") {
        bail!("slurm submit needs a jobs file, not standard input: every shard reads it");
    }
    let run_args = check_options(&parts, shards)?;
    let jobs = absolute(&parts.jobs)?;
    let workdir = std::env::current_dir().context("cannot read the current directory")?;
    let name = jobs.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "jobs".into());
    let run = RunDir::new(absolute(
        &args.run_dir.clone().unwrap_or_else(|| PathBuf::from(format!("slurm-{name}"))),
    )?);

    let context =
        procmap::RunContext { out_dir: run_args.out_dir.clone(), allow_outside: run_args.allow_outside };
    let check = Check {
        registry,
        context: &context,
        task: run_args.task.clone(),
        shards,
        custom_worker: run_args.worker.is_some(),
    };
    let preflight = check.run(&jobs)?;
    say!("{}", preflight.render().trim_end_matches('\n'));
    if preflight.conflicts > 0 {
        bail!("refusing to submit: give each line its own output (or drop the duplicates) and submit again");
    }

    let plan = SlurmPlan {
        cpus_per_task: run_args.procs.unwrap_or(1),
        max_running: args.max_running,
        sbatch: parts.sbatch.clone(),
    };
    let manifest =
        Manifest { jobs: jobs.clone(), task: run_args.task.clone(), shards, slurm: Some(plan.clone()) };
    run.create(&manifest)?;
    let supervisor = std::env::current_exe().context("cannot find this executable")?;
    let script = Script {
        supervisor: &supervisor,
        workdir: &workdir,
        run_dir: &run.path,
        shards,
        jobs: &jobs,
        options: &parts.options,
    };
    let script_path = run.path.join(SCRIPT);
    std::fs::write(&script_path, script.render())
        .with_context(|| format!("cannot write {}", script_path.display()))?;
    make_executable(&script_path)?;

    let argv =
        super::sbatch::command(&run, &format!("procmap-{name}"), &plan, &format!("0-{}", shards - 1), &[]);
    if args.dry_run {
        say!("dry run: wrote {}; would run:", script_path.display());
        tell!("{}", shell_words::join(&argv));
        return Ok(exit::OK);
    }
    let job = super::sbatch::submit(&run, &argv)?;
    tell!("{job}");
    let at_once = args.max_running.map(|k| format!(", at most {k} at a time")).unwrap_or_default();
    say!(
        "submitted job {job}: {shards} array tasks (shards 0-{}){at_once}, {} CPU(s) each",
        shards - 1,
        plan.cpus_per_task
    );
    say!("  run directory {} (batch script {SCRIPT}, logs/, journal/)", run.path.display());
    super::next_steps::print_next_steps(&run.path, &job);
    Ok(exit::OK)
}

/// Takes `submit`'s own flags out of `rest` wherever they stand (the usage
/// puts them after JOBS, where clap already collects the run's options),
/// and splits the rest into JOBS, supervisor options and sbatch options.
fn split(args: &mut SubmitArgs) -> anyhow::Result<Parts> {
    let rest = std::mem::take(&mut args.rest);
    let (ours, sbatch) = match rest.iter().position(|a| a == "--") {
        Some(i) => (&rest[..i], rest[i + 1..].to_vec()),
        None => (&rest[..], Vec::new()),
    };
    let Some((jobs, tail)) = ours.split_first() else {
        bail!("name the jobs file: supervisor slurm submit JOBS --shards N")
    };
    if jobs.starts_with('-') && jobs != "-" {
        bail!(
            "put JOBS first, then options: supervisor slurm submit JOBS --shards N [OPTIONS] (got {jobs:?} first)"
        );
    }
    let mut options = Vec::new();
    let mut words = tail.iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (word.as_str(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            inline.clone().or_else(|| words.next().cloned()).with_context(|| format!("{flag} needs a value"))
        };
        match flag {
            "--shards" => args.shards = Some(parse_count(flag, &value()?)?),
            "--max-running" => args.max_running = Some(parse_count(flag, &value()?)?),
            "--run-dir" => args.run_dir = Some(PathBuf::from(value()?)),
            "--dry-run" => args.dry_run = true,
            _ => options.push(word.clone()),
        }
    }
    Ok(Parts { jobs: PathBuf::from(jobs), options, sbatch })
}

fn parse_count(flag: &str, value: &str) -> anyhow::Result<u32> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("{flag} takes a number of at least 1, not {value:?}"),
    }
}

/// Parses the supervisor options as a shard's run will, so that a typo
/// fails here and not on N nodes an hour later, and refuses those the
/// batch script sets itself.
/// The command line of one shard's run.
#[derive(Parser)]
struct ShardRun {
    #[command(flatten)]
    run: RunArgs,
}

fn check_options(parts: &Parts, shards: u32) -> anyhow::Result<RunArgs> {
    let mut argv: Vec<String> = vec!["supervisor".into()];
    argv.extend(parts.options.iter().cloned());
    argv.extend(["--shard".into(), format!("0/{shards}"), parts.jobs.display().to_string()]);
    let run = ShardRun::try_parse_from(&argv)
        .map_err(|e| anyhow::anyhow!("supervisor options: {}", e.render().to_string().trim()))?
        .run;
    if run.results != Path::new("-") {
        bail!(
            "-o is set by the batch script: each shard writes RUN_DIR/journal/shard-I-of-N.jsonl; `supervisor merge` makes one journal"
        );
    }
    if run.resume || run.resume_failed || run.overwrite {
        bail!(
            "--resume, --resume-failed and --overwrite are set by the batch script: every shard resumes its own journal"
        );
    }
    Ok(run)
}

fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_words(words: &[&str]) -> (anyhow::Result<Parts>, SubmitArgs) {
        let mut args = SubmitArgs {
            shards: None,
            max_running: None,
            run_dir: None,
            dry_run: false,
            rest: words.iter().map(|s| s.to_string()).collect(),
        };
        (split(&mut args), args)
    }

    #[test]
    fn submit_flags_after_jobs_are_ours_and_the_rest_is_the_run_s() {
        let (parts, args) = split_words(&[
            "jobs.txt",
            "--shards",
            "16",
            "-p",
            "4",
            "--max-running=8",
            "--timeout",
            "5m",
            "--",
            "--partition=cpu",
            "--shards",
            "x",
        ]);
        let parts = parts.unwrap();
        assert_eq!(parts.jobs, PathBuf::from("jobs.txt"));
        assert_eq!(parts.options, ["-p", "4", "--timeout", "5m"]);
        assert_eq!(parts.sbatch, ["--partition=cpu", "--shards", "x"]);
        assert_eq!((args.shards, args.max_running), (Some(16), Some(8)));
    }

    #[test]
    fn jobs_must_come_first_and_options_must_parse() {
        assert!(split_words(&["-p", "4", "jobs.txt"]).0.unwrap_err().to_string().contains("put JOBS first"));
        let parts =
            Parts { jobs: "jobs.txt".into(), options: vec!["--timeuot".into(), "5s".into()], sbatch: vec![] };
        assert!(check_options(&parts, 4).unwrap_err().to_string().contains("--timeuot"));
        let parts =
            Parts { jobs: "jobs.txt".into(), options: vec!["-o".into(), "x.jsonl".into()], sbatch: vec![] };
        assert!(check_options(&parts, 4).unwrap_err().to_string().contains("-o is set by the batch script"));
    }
}
