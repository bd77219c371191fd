//! `supervisor slurm submit JOBS --shards N [...] [-- SBATCH OPTIONS]`.

use super::preflight::Check;
use super::script::Script;
use crate::exit;
use crate::run::args::RunArgs;
use anyhow::{Context as _, bail};
use clap::Args;
use procmap_batch::rundir::{JOURNALS, LOGS, SCRIPT};
use procmap_batch::rundir::{Manifest, RunDir, SlurmPlan, absolute};
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
Any option of a plain run (`supervisor --help`: --timeout, --mem-limit,
--retries, --task, --out-dir, --mode, …) is checked here and written into the
batch script for every shard; after `--`, options for sbatch (--partition,
--time, --account, …). -p N is the CPUs of each array task (sbatch
--cpus-per-task) and so its worker processes; default 1. The journal (-o,
--resume) and --shard are the batch script's own.

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
    override_usage = "supervisor slurm submit JOBS --shards N [--max-running K] [--run-dir DIR] [OPTIONS] [-- SBATCH OPTIONS]",
    // A plain run's sharding flags, said as submit means them; the shard
    // and the journal are the batch script's to set (and refused if given).
    mut_arg("shards", |a| a
        .help("Split the batch into N shards: an array of N tasks, 0 to N-1")
        .value_parser(clap::value_parser!(u32).range(1..=9999))
        .help_heading("Submit")),
    mut_arg("run_dir", |a| a
        .help("Where the batch script, logs and shard journals go. Default: slurm-<jobs file name> in the current directory")
        .help_heading("Submit")),
    mut_arg("jobs", |a| a.help("The jobs file, which every shard reads")),
    // The CPUs asked for each array task; SLURM_CPUS_PER_TASK of the shell
    // that submits says nothing about them.
    mut_arg("procs", |a| a
        .env(None::<&'static str>)
        .help("CPUs of each array task (sbatch --cpus-per-task), and so its worker processes. Default: 1")),
    // mut_arg moves an argument to the end: SBATCH OPTIONS must stay after
    // JOBS.
    mut_arg("sbatch", |a| a),
    mut_arg("shard", |a| a.hide(true)),
    mut_arg("results", |a| a.hide(true)),
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("resume_failed", |a| a.hide(true)),
    mut_arg("overwrite", |a| a.hide(true)),
)]
pub struct SubmitArgs {
    /// Run at most K array tasks at once (sbatch --array=0-(N-1)%K).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Submit")]
    pub max_running: Option<u32>,
    /// Check and write everything, print the sbatch command, submit nothing.
    #[arg(long, help_heading = "Submit")]
    pub dry_run: bool,
    /// The jobs file and the options of every shard's run.
    #[command(flatten)]
    pub run: RunArgs,
    /// Options for sbatch, after `--`.
    #[arg(last = true, value_name = "SBATCH OPTIONS")]
    pub sbatch: Vec<String>,
}

pub fn run(args: SubmitArgs, registry: &procmap::Registry) -> anyhow::Result<u8> {
    let shards = check_options(&args.run)?;
    let run_args = &args.run;
    let jobs = absolute(run_args.jobs.as_deref().expect("clap requires JOBS"))?;
    let workdir = std::env::current_dir().context("cannot read the current directory")?;
    let name = jobs.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "jobs".into());
    let run = RunDir::new(absolute(
        &run_args.run_dir.clone().unwrap_or_else(|| PathBuf::from(format!("slurm-{name}"))),
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
        sbatch: args.sbatch.clone(),
    };
    let manifest =
        Manifest { slurm: Some(plan.clone()), ..Manifest::new(jobs.clone(), run_args.task.clone(), shards) };
    run.create(&manifest)?;
    let supervisor = std::env::current_exe().context("cannot find this executable")?;
    let options = run_args.shard_options();
    let script = Script {
        supervisor: &supervisor,
        workdir: &workdir,
        run_dir: &run.path,
        shards,
        jobs: &jobs,
        options: &options,
    };
    let script_path = run.script();
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
    say!("  run directory {} (batch script {SCRIPT}, {LOGS}/, {JOURNALS}/)", run.path.display());
    super::next_steps::print_next_steps(&run.path, &job);
    Ok(exit::OK)
}

/// Refuses what the batch script sets itself and what no shard could read;
/// returns the number of shards. The options were parsed as a shard's run
/// parses them, so a typo has already failed here, and not on N nodes an
/// hour later.
fn check_options(run: &RunArgs) -> anyhow::Result<u32> {
    let Some(shards) = run.shards else { bail!("say how many shards: --shards N") };
    if run.jobs.as_deref() == Some(Path::new("-")) {
        bail!("slurm submit needs a jobs file, not standard input: every shard reads it");
    }
    if run.shard.is_some() {
        bail!("--shard is set by the batch script: each array task runs its own shard");
    }
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
    Ok(shards)
}

fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Submit {
        #[command(flatten)]
        args: SubmitArgs,
    }

    fn parse(words: &[&str]) -> Result<SubmitArgs, clap::Error> {
        use clap::Parser as _;
        Submit::try_parse_from(["submit"].iter().chain(words)).map(|s| s.args)
    }

    #[test]
    fn submit_flags_anywhere_and_sbatch_options_after_the_double_dash() {
        let args = parse(&[
            "--shards",
            "16",
            "jobs.txt",
            "-p",
            "4",
            "--max-running=8",
            "--timeout",
            "5m",
            "--",
            "--partition=cpu",
            "--shards",
            "x",
        ])
        .unwrap();
        assert_eq!(args.run.jobs, Some(PathBuf::from("jobs.txt")));
        assert_eq!(args.run.shard_options(), ["--procs", "4", "--timeout", "5m"]);
        assert_eq!(args.sbatch, ["--partition=cpu", "--shards", "x"]);
        assert_eq!((args.run.shards, args.max_running), (Some(16), Some(8)));
    }

    #[test]
    fn options_must_parse_and_leave_the_script_s_own_alone() {
        assert!(
            parse(&["jobs.txt", "--shards", "4", "--timeuot", "5s"])
                .unwrap_err()
                .to_string()
                .contains("--timeuot")
        );
        assert!(parse(&["jobs.txt", "--shards", "10000"]).is_err());
        let refused = |words: &[&str]| check_options(&parse(words).unwrap().run).unwrap_err().to_string();
        assert!(
            refused(&["jobs.txt", "--shards", "4", "-o", "x.jsonl"])
                .contains("-o is set by the batch script")
        );
        assert!(refused(&["jobs.txt", "--shards", "4", "--shard", "1/4"]).contains("--shard is set"));
        assert!(refused(&["jobs.txt", "--resume", "--shards", "4"]).contains("--resume"));
        assert!(refused(&["jobs.txt"]).contains("--shards N"));
        assert!(refused(&["-", "--shards", "2"]).contains("not standard input"));
    }
}
