//! `supervisor`'s main flow: parse, set up, run the pool, write the journal,
//! summarise, and map the outcome to an exit code.

use crate::args::{ChunkArg, Cli, Command, ModeArg, RunArgs};
use crate::jobs::{JobReader, count_jobs};
use crate::journal::{FLUSH_EVERY, Journal, Previous};
use crate::progress::Progress;
use crate::summary::{self, Setting, Tally};
use anyhow::{Context as _, bail};
use clap::Parser;
use procmap::{Chunking, Input, Mode, Next, Pool, PoolError, Registry, RunContext, Status};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const OK: u8 = 0;
    pub const JOBS_FAILED: u8 = 1;
    pub const SETUP: u8 = 2;
    pub const INTERRUPTED: u8 = 130;
}

/// The `supervisor` binary, with the built-in tasks of `registry` available
/// for thread and serial modes and for checking arguments before dispatch.
pub fn main(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::SETUP } else { exit::OK });
        }
    };
    init_tracing(cli.run.verbose);
    let result = match cli.command {
        Some(Command::Tasks { worker: None }) => {
            print_tasks(&registry.infos());
            Ok(exit::OK)
        }
        Some(Command::Tasks { worker: Some(program) }) => {
            let pool = Pool::builder(registry).worker_program(program).build();
            pool.worker_tasks().map_err(explain_pool_error).map(|tasks| {
                print_tasks(&tasks);
                exit::OK
            })
        }
        Some(Command::Compare(args)) => crate::compare::run(args),
        Some(Command::Jobs(args)) => crate::demo::print_jobs(&args),
        Some(Command::Demo(args)) => demo(&args, registry),
        Some(Command::Status(args)) => crate::status::run(&args),
        Some(Command::Merge(args)) => crate::merge::run(&args),
        Some(Command::Slurm(command)) => crate::slurm::run(command, &registry),
        None => run(cli.run, registry),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("supervisor: {e:#}");
            ExitCode::from(exit::SETUP)
        }
    }
}

fn demo(args: &crate::demo::DemoArgs, registry: Registry) -> anyhow::Result<u8> {
    let jobs = crate::demo::make_demo(args)?;
    let code = if args.no_run {
        exit::OK
    } else {
        let cli = Cli::try_parse_from(crate::demo::demo_run_argv(args, &jobs)).context("demo arguments")?;
        run(cli.run, registry)?
    };
    crate::demo::print_next_steps(args, &jobs);
    Ok(code)
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "procmap=info,procmap_cli=info",
        _ => "procmap=debug,procmap_cli=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn print_tasks(infos: &[procmap::wire::TaskInfo]) {
    let width = infos.iter().map(|t| t.name.len() + t.usage.len() + 1).max().unwrap_or(0);
    for t in infos {
        let form = format!("{} {}", t.name, t.usage);
        println!("{form:width$}  {}", t.about);
    }
}

fn run(mut args: RunArgs, registry: Registry) -> anyhow::Result<u8> {
    let shard = crate::shard::setup(&mut args)?;
    let mode = match args.mode {
        ModeArg::Process => Mode::Process,
        ModeArg::Thread => Mode::Thread,
        ModeArg::Serial => Mode::Serial,
    };
    let procs = args
        .procs
        .map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |n| n as usize);
    let program = args.worker.clone().unwrap_or_else(procmap::default_worker_program);
    if mode == Mode::Process && !program.is_file() {
        bail!(
            "worker program {} not found: build it with `cargo build --release --bins`, or name it with --worker PATH",
            program.display()
        );
    }
    if mode != Mode::Process {
        for (flag, set) in [
            ("--timeout", args.timeout.is_some()),
            ("--mem-limit", args.mem_limit.is_some()),
            ("--max-tasks-per-child", args.max_tasks_per_child.is_some()),
            ("--threads", args.threads > 1),
        ] {
            if set {
                eprintln!(
                    "supervisor: warning: {flag} applies to process mode only; ignored in {:?} mode",
                    args.mode
                );
            }
        }
    }
    let jobs_path = args.jobs.clone().expect("clap requires JOBS");
    let stdin = jobs_path == Path::new("-");
    let mut regular_file = false;
    let reader: Box<dyn BufRead + Send> = if stdin {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&jobs_path)
            .with_context(|| format!("cannot read jobs file {}", jobs_path.display()))?;
        let meta =
            file.metadata().with_context(|| format!("cannot read jobs file {}", jobs_path.display()))?;
        if meta.is_dir() {
            bail!("cannot read jobs file {}: it is a directory", jobs_path.display());
        }
        // Only a regular file can be read twice: counting the lines of a
        // pipe for the progress bar would steal them from the run.
        regular_file = meta.is_file();
        Box::new(BufReader::with_capacity(256 * 1024, file))
    };

    let to_stdout = args.results == Path::new("-");
    let resuming = args.resume || args.resume_failed;
    if resuming && to_stdout {
        bail!("--resume needs a journal file: add -o FILE (the journal of the run to resume)");
    }
    let previous = if resuming {
        let prev = Previous::load(&args.results)
            .with_context(|| format!("cannot read journal {}", args.results.display()))?;
        if prev.torn_lines > 0 {
            eprintln!(
                "supervisor: ignoring {} unreadable line(s) in {}",
                prev.torn_lines,
                args.results.display()
            );
        }
        Some(prev)
    } else {
        None
    };
    if !to_stdout
        && !resuming
        && !args.overwrite
        && std::fs::metadata(&args.results).is_ok_and(|m| m.len() > 0)
    {
        bail!(
            "journal {} already exists: add --resume to continue that run, or --overwrite to replace it",
            args.results.display()
        );
    }
    let mut journal = if to_stdout {
        Journal::stdout()
    } else {
        Journal::file(&args.results, resuming)
            .with_context(|| format!("cannot write journal {}", args.results.display()))?
    };

    let skipped = Arc::new(AtomicU64::new(0));
    let inputs = JobReader::new(reader, args.task.clone());
    let source: Box<dyn Iterator<Item = Input> + Send> = match previous {
        None => Box::new(inputs),
        Some(prev) => {
            let (skipped, only_ok) = (Arc::clone(&skipped), args.resume_failed);
            Box::new(inputs.filter_map(move |input| {
                let done = match &input {
                    Input::Job(j) => prev.is_done(j.id, &j.task, &j.args, only_ok),
                    Input::Invalid { id, task, args, .. } => prev.is_done(*id, task, args, only_ok),
                    Input::Done(_) => true,
                };
                if !done {
                    return Some(input);
                }
                skipped.fetch_add(1, Ordering::Relaxed);
                // A done job still holds on to its outputs (see Input::Done).
                match input {
                    Input::Job(job) => Some(Input::Done(job)),
                    _ => None,
                }
            }))
        }
    };

    // After the resume filter, so that the other shards' jobs pass as done
    // whatever the journal says, and keep their output claims.
    let source = match shard {
        Some(shard) => crate::shard::filter(source, shard),
        None => source,
    };

    let context = RunContext { out_dir: args.out_dir.clone(), allow_outside: args.allow_outside };
    let pool = Pool::builder(registry)
        .procs(procs)
        .chunking(match args.chunksize {
            ChunkArg::Auto => Chunking::Auto,
            ChunkArg::Fixed(n) => Chunking::Fixed(n as usize),
        })
        .threads(args.threads as usize)
        .mode(mode)
        .worker_program(program)
        .context(context)
        .retries(args.retries)
        .timeout(args.timeout)
        .mem_limit(args.mem_limit)
        .max_tasks_per_child(args.max_tasks_per_child)
        .stop_grace(args.grace)
        .build();

    let mut progress = Progress::new(args.progress, args.quiet);
    let total = regular_file.then(|| spawn_count(jobs_path.clone(), args.task.clone(), shard));
    let started = Instant::now();
    let mut run = pool.run(source)?;
    // Threads cannot be killed: in thread and serial mode the second
    // interrupt ends the process (the journal loses at most its last
    // flush interval).
    let interrupts = watch_signals(run.stop_handle(), mode != Mode::Process)?;

    let mut tally = Tally::default();
    let mut broken_pipe = false;
    loop {
        let record = match run.next_timeout(FLUSH_EVERY) {
            Next::Record(record) => record,
            Next::Finished => break,
            Next::Pending => {
                // Nothing arrived for a while: make what did arrive durable.
                if let Err(e) = journal.flush() {
                    return Err(e)
                        .with_context(|| format!("cannot write journal {}", args.results.display()));
                }
                continue;
            }
        };
        if let Err(e) = journal.write(&record) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                broken_pipe = true;
                break;
            }
            return Err(e).with_context(|| format!("cannot write journal {}", args.results.display()));
        }
        tally.add(record.status);
        progress.record(record.status == Status::Ok);
        if let Some(count) = total.as_ref().and_then(|rx| rx.try_recv().ok()) {
            progress.set_total(count.saturating_sub(skipped.load(Ordering::Relaxed)));
        }
    }
    let flushed = journal.flush();
    progress.finish();
    tally.skipped = skipped.load(Ordering::Relaxed);
    let interrupted = interrupts.load(Ordering::SeqCst) > 0;
    let stats = match run.finish() {
        Ok(stats) => Some(stats),
        Err(e) => return Err(explain_pool_error(e)),
    };
    if broken_pipe {
        return Ok(exit::OK);
    }
    flushed.with_context(|| format!("cannot write journal {}", args.results.display()))?;

    if !args.quiet {
        let mode_name = match mode {
            Mode::Process => "process",
            Mode::Thread => "thread",
            Mode::Serial => "serial",
        };
        let setting = Setting {
            mode: mode_name,
            procs: if mode == Mode::Serial { 1 } else { procs },
            threads: if mode == Mode::Process { args.threads as usize } else { 1 },
            chunksize: args.chunksize.to_string(),
        };
        eprint!("{}", summary::render(&tally, stats.as_ref(), started.elapsed(), &setting));
        if interrupted {
            eprintln!("{}", resume_hint(&args.results, to_stdout));
        }
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else if tally.all_ok() {
        exit::OK
    } else {
        exit::JOBS_FAILED
    })
}

fn resume_hint(results: &Path, to_stdout: bool) -> String {
    if to_stdout {
        "interrupted: the jobs above are done; to resume later, run with -o FILE and --resume".to_owned()
    } else {
        format!(
            "interrupted: rerun the same command with --resume to run the rest (journal {})",
            results.display()
        )
    }
}

fn explain_pool_error(e: PoolError) -> anyhow::Error {
    match &e {
        PoolError::WorkerStart { stderr, .. } if !stderr.is_empty() => {
            let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::anyhow!("{e}\n  worker stderr:\n    {}", tail.join("\n    "))
        }
        _ => anyhow::Error::new(e),
    }
}

/// Counts the jobs in the background so the run starts at once; the
/// progress bar gets its total when the count is done.
fn spawn_count(
    path: PathBuf,
    task: Option<String>,
    shard: Option<crate::shard::Shard>,
) -> std::sync::mpsc::Receiver<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(file) = std::fs::File::open(path) {
            let reader = BufReader::with_capacity(256 * 1024, file);
            let _ = tx.send(match shard {
                Some(shard) => crate::shard::count(reader, task, shard),
                None => count_jobs(reader),
            });
        }
    });
    rx
}

/// First SIGINT/SIGTERM: stop dispatching and let jobs in flight finish.
/// Second: kill the workers now. Returns how many were received.
fn watch_signals(stop: procmap::StopHandle, exit_on_second: bool) -> anyhow::Result<Arc<AtomicU64>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let count = Arc::new(AtomicU64::new(0));
    // SIGHUP too: a closed terminal should stop the run as cleanly as Ctrl-C.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    let seen = Arc::clone(&count);
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for _ in signals.forever() {
            seen.fetch_add(1, Ordering::SeqCst);
            if seen.load(Ordering::SeqCst) >= 3 {
                // Whatever is stuck, the user wants out. Workers die with the
                // dispatcher thread (their parent-death signal).
                eprintln!("\nsupervisor: interrupted three times: exiting now");
                std::process::exit(exit::INTERRUPTED.into());
            }
            match stop.request_stop() {
                1 => eprintln!(
                    "\nsupervisor: stopping: no new jobs; waiting for jobs in flight (interrupt again to kill them)"
                ),
                _ if exit_on_second => {
                    eprintln!("\nsupervisor: interrupted again: exiting now; rerun with --resume");
                    std::process::exit(exit::INTERRUPTED.into());
                }
                _ => eprintln!("\nsupervisor: killing the workers"),
            }
        }
    })?;
    Ok(count)
}
