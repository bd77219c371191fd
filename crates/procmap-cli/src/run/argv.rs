//! A run's options back as a command line: what the batch script of
//! `slurm submit` passes to every shard, checked and typed first.

use super::args::{DEFAULT_GRACE, DEFAULT_OUT_DIR, DEFAULT_RETRIES, ModeArg, ProgressArg, RunArgs};
use crate::units::{format_size, parse_duration};
use clap::ValueEnum;
use procmap::Chunking;

impl RunArgs {
    /// The options of this run that a shard's run takes from its batch
    /// script, those at their defaults left out. The jobs file, the
    /// journal and the shard are the script's own, so they are not here.
    pub fn shard_options(&self) -> Vec<String> {
        // Every field named, so that a new option cannot be forgotten here.
        let RunArgs {
            jobs: _,
            results: _,
            resume: _,
            resume_failed: _,
            overwrite: _,
            shard: _,
            shards: _,
            run_dir: _,
            procs,
            chunksize,
            threads,
            mode,
            task,
            worker,
            python,
            retries,
            halt,
            timeout,
            mem_limit,
            max_tasks_per_child,
            grace,
            out_dir,
            allow_outside,
            capture,
            progress,
            quiet,
            verbose,
        } = self;
        let mut argv = Vec::new();
        let mut option = |flag: &str, value: Option<String>| {
            if let Some(value) = value {
                argv.extend([flag.to_owned(), value]);
            }
        };
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let duration = |d: &std::time::Duration| humantime::format_duration(*d).to_string();
        option("--procs", procs.map(|n| n.to_string()));
        option("--chunksize", (*chunksize != Chunking::Auto).then(|| chunksize.to_string()));
        option("--threads", (*threads != 1).then(|| threads.to_string()));
        option("--mode", (*mode != ModeArg::Process).then(|| value_name(mode)));
        option("--task", task.clone());
        option("--worker", worker.as_deref().map(path));
        option("--python", python.as_deref().map(path));
        option("--retries", (*retries != DEFAULT_RETRIES).then(|| retries.to_string()));
        // Each shard halts on its own jobs.
        option("--halt", halt.map(|h| h.to_string()));
        option("--timeout", timeout.as_ref().map(duration));
        option("--mem-limit", mem_limit.map(format_size));
        option("--max-tasks-per-child", max_tasks_per_child.map(|n| n.to_string()));
        let default_grace = parse_duration(DEFAULT_GRACE).expect("the default grace is a duration");
        option("--grace", (*grace != default_grace).then(|| duration(grace)));
        option("--out-dir", (out_dir.as_os_str() != DEFAULT_OUT_DIR).then(|| path(out_dir)));
        // Each shard writes its own lines' files into the one directory.
        option("--capture", capture.as_ref().map(ToString::to_string));
        option("--progress", (*progress != ProgressArg::Auto).then(|| value_name(progress)));
        if *allow_outside {
            argv.push("--allow-outside".to_owned());
        }
        if *quiet {
            argv.push("--quiet".to_owned());
        }
        argv.extend((0..*verbose).map(|_| "--verbose".to_owned()));
        argv
    }
}

/// A value of an enum option as the command line spells it.
fn value_name(value: &impl ValueEnum) -> String {
    value.to_possible_value().expect("no variant is skipped").get_name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    struct Alone {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(options: &[String]) -> RunArgs {
        let argv = ["supervisor"].into_iter().map(str::to_owned).chain(options.iter().cloned());
        let mut run = Alone::try_parse_from(argv.chain(["jobs.txt".to_owned()])).unwrap().run;
        // `new` reads no environment; neither may the comparison.
        run.procs = run.procs.filter(|_| options.iter().any(|o| o == "--procs"));
        run.worker = run.worker.filter(|_| options.iter().any(|o| o == "--worker"));
        run
    }

    #[test]
    fn defaults_give_no_options() {
        assert_eq!(RunArgs::new("jobs.txt".into()).shard_options(), Vec::<String>::new());
    }

    #[test]
    fn every_option_survives_the_trip_through_the_script() {
        let run = RunArgs {
            procs: Some(4),
            chunksize: Chunking::Fixed(16),
            threads: 2,
            mode: ModeArg::Thread,
            task: Some("cube".into()),
            worker: Some("my worker".into()),
            retries: 5,
            timeout: Some(Duration::from_millis(1500)),
            mem_limit: Some(3 << 29),
            max_tasks_per_child: Some(100),
            grace: Duration::from_secs(90),
            out_dir: "png out".into(),
            allow_outside: true,
            capture: Some(procmap::wire::Capture::Files("job logs".into())),
            progress: ProgressArg::Always,
            quiet: true,
            verbose: 2,
            ..RunArgs::new("jobs.txt".into())
        };
        let options = run.shard_options();
        assert_eq!(format!("{:?}", parse(&options)), format!("{run:?}"), "{options:?}");
        assert!(options.windows(2).any(|w| w == ["--timeout", "1s 500ms"]), "{options:?}");
        assert!(options.windows(2).any(|w| w == ["--mem-limit", "1536M"]), "{options:?}");
        // --python conflicts with --worker, so it makes its own trip.
        let run = RunArgs { python: Some("tasks.py".into()), ..RunArgs::new("jobs.txt".into()) };
        assert_eq!(format!("{:?}", parse(&run.shard_options())), format!("{run:?}"));
    }
}
