//! A plain run, `supervisor [OPTIONS] JOBS`: set up, run the pool, write
//! the journal, summarise, and say which exit code the run earned.

pub mod args;
mod argv;

use crate::exit;
use crate::progress::Progress;
use crate::summary::{self, Setting, Tally};
use crate::worker::{explain_pool_error, resolve_worker};
use anyhow::{Context as _, bail};
use args::{ModeArg, RunArgs};
use procmap::{Mode, Next, Pool, Registry, RunContext, Status};
use procmap_batch::jobs::{JobReader, count_jobs};
use procmap_batch::journal::{FLUSH_EVERY, Header, Journal};
use procmap_batch::resume::{OpenError, Repeats, Resume};
use procmap_batch::source as input;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub fn run(mut args: RunArgs, registry: Registry) -> anyhow::Result<u8> {
    let plan = crate::sharding::plan(
        args.shard,
        args.shards,
        args.run_dir.as_deref(),
        args.jobs.as_deref(),
        args.task.as_deref(),
    )?;
    if let Some(journal) = plan.as_ref().and_then(|p| p.journal.clone()) {
        args.results = journal;
    }
    let shard = plan.map(|p| p.shard);
    if let Some(shard) = shard
        && !args.quiet
    {
        // The first line of an array task's log: which part of the batch it is.
        say!(
            "supervisor: shard {} of {} (0-based), journal {}",
            shard.index,
            shard.count,
            args.results.display()
        );
    }
    let mode = match args.mode {
        ModeArg::Process | ModeArg::Auto => Mode::Process,
        ModeArg::Thread => Mode::Thread,
        ModeArg::Serial => Mode::Serial,
    };
    let procs = args
        .procs
        .map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |n| n as usize);
    let (program, worker_args) = worker_program(&args, mode)?;
    if mode != Mode::Process {
        warn_process_only_flags(&args);
    }
    if args.mode == ModeArg::Auto && args.threads > 1 {
        say!("supervisor: warning: --mode auto chooses the threads per worker; --threads ignored");
    }
    let threads = if mode == Mode::Process { args.threads as usize } else { 1 };
    let capture = crate::capture::decide(args.capture.as_ref(), mode, threads, args.mode == ModeArg::Auto)?;
    let jobs_path = args.jobs.clone().expect("clap requires JOBS");
    input::check_not_aliased(&jobs_path, &args.results)?;
    if args.results == Path::new("-") && crate::fds::stdout_was_closed() {
        bail!("stdout is closed, and the journal would go there: name a journal with -o FILE");
    }
    let jobs = input::open_jobs(&jobs_path)?;
    let capture = crate::capture::prepare(capture)?;
    let (mut journal, resume) = open_journal(&args)?;
    let skipped = resume.as_ref().map_or_else(Arc::default, Resume::skipped);
    let left_failed = resume.as_ref().map_or_else(Arc::default, Resume::left_failed);
    let repeats = resume.as_ref().map_or_else(Repeats::default, Resume::repeats);
    let source = input::source(JobReader::new(jobs.reader, args.task.clone()), shard, resume);
    let pool = build_pool(&args, registry, mode, procs, capture)
        .worker_program(program)
        .worker_args(worker_args)
        .build();

    let mut progress = Progress::new(args.progress, args.quiet);
    let mut total = jobs.regular_file.then(|| spawn_count(jobs_path.clone(), args.task.clone(), shard));
    let started = Instant::now();
    let mut run = pool.run(source).map_err(explain_pool_error)?;
    // Threads cannot be killed: in thread and serial mode the second
    // interrupt ends the process (the journal loses at most its last
    // flush interval).
    let interrupts = watch_signals(run.stop_handle(), mode != Mode::Process)?;

    let mut tally = Tally::default();
    let mut halt = args.halt.map(procmap_batch::halt::Halt::new);
    let stop = run.stop_handle();
    let auto_log = run.auto_log();
    let journal_error = write_journal(&mut run, &mut journal, &repeats, &auto_log, |status| {
        tally.add(status);
        if let Some(when) = halt.as_mut().and_then(|h| h.observe(status)) {
            // As the first Ctrl-C (soon) or the second (now).
            stop.request_stop();
            if when == procmap_batch::halt::When::Now {
                stop.request_stop();
            }
        }
        progress.record(status == Status::Ok);
        // Asked until the count arrives (or its thread gives up), not for
        // every record of the run.
        if let Some(rx) = &total {
            match rx.try_recv() {
                Ok(count) => {
                    progress.set_total(count.saturating_sub(skipped.load(Ordering::Relaxed)));
                    total = None;
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => total = None,
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
    });
    progress.finish();
    tally.skipped = skipped.load(Ordering::Relaxed);
    tally.left_failed = left_failed.load(Ordering::Relaxed);
    let interrupted = interrupts.load(Ordering::SeqCst) > 0;
    // Without a journal the run stops: dropping our end of the results
    // tells the pool to end its workers.
    let stats = run.finish().map_err(explain_pool_error)?;
    let halted = halt.as_ref().and_then(|h| h.reason("--halt"));
    if let Some(e) = journal_error {
        report_journal_error(&args.results, &e, tally.total());
        return Ok(exit::JOURNAL);
    }

    if !args.quiet {
        let setting = Setting {
            mode,
            procs: if mode == Mode::Serial { 1 } else { procs },
            threads: if mode == Mode::Process { args.threads as usize } else { 1 },
            chunksize: args.chunksize.to_string(),
            auto: args.mode == ModeArg::Auto,
        };
        print_summary(&tally, &stats, started, &setting, interrupted.then_some(&args.results));
    }
    if let Some(reason) = &halted {
        let next = if args.results == Path::new("-") {
            "to finish the batch, run with -o FILE and --resume".to_owned()
        } else {
            format!(
                "rerun the same command with --resume to finish the batch (journal {})",
                args.results.display()
            )
        };
        say!("supervisor: {reason}; {next}");
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else if halted.is_some() {
        exit::HALTED
    } else if tally.all_ok() {
        exit::OK
    } else {
        exit::JOBS_FAILED
    })
}

/// The worker program and its arguments: a Python interpreter for
/// `--python`, else `--worker` or the `supervisor-worker` beside us.
fn worker_program(args: &RunArgs, mode: Mode) -> anyhow::Result<(PathBuf, Vec<std::ffi::OsString>)> {
    Ok(match (&args.python, mode) {
        (Some(file), Mode::Process) => crate::python::worker_for(file)?,
        (Some(_), _) => bail!("--python runs Python workers: it needs process mode"),
        (None, Mode::Process) => (resolve_worker(args.worker.clone())?, Vec::new()),
        (None, _) => (args.worker.clone().unwrap_or_else(procmap::default_worker_program), Vec::new()),
    })
}

/// Says why the journal could not be written and how to carry on.
fn report_journal_error(results: &Path, e: &std::io::Error, records: u64) {
    let name = if results == Path::new("-") { "stdout".to_owned() } else { results.display().to_string() };
    let why = if e.kind() == std::io::ErrorKind::BrokenPipe {
        "its reader went away (broken pipe)".to_owned()
    } else {
        e.to_string()
    };
    say!(
        "supervisor: cannot write the journal {name}: {why}; stopped after {records} records; rerun with -o FILE --resume to redo the rest"
    );
}

/// The summary on stderr, and how to resume if the run was interrupted
/// (`interrupted` names its journal).
fn print_summary(
    tally: &Tally,
    stats: &procmap::Stats,
    started: Instant,
    setting: &Setting,
    interrupted: Option<&PathBuf>,
) {
    let text = summary::render(tally, Some(stats), started.elapsed(), setting);
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
    if let Some(results) = interrupted {
        say!("{}", resume_hint(results, results == Path::new("-")));
    }
}

/// Opens the journal the way the flags say (stdout, a new file, a file to
/// resume or to overwrite), with what it already records when resuming.
fn open_journal(args: &RunArgs) -> anyhow::Result<(Journal, Option<Resume>)> {
    let path = &args.results;
    let to_stdout = path == Path::new("-");
    let resuming = args.resume || args.resume_failed;
    if to_stdout {
        if resuming {
            bail!("--resume needs a journal file: add -o FILE (the journal of the run to resume)");
        }
        let out = crate::fds::take_stdout().context("cannot set up the journal on stdout")?;
        return Ok((Journal::stream(Box::new(out), &header(args)), None));
    }
    let meta = std::fs::metadata(path).ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        bail!(
            "journal {} is a directory: name a file, e.g. -o {}/results.jsonl",
            path.display(),
            path.display()
        );
    }
    if !resuming && !args.overwrite && meta.is_some_and(|m| m.len() > 0) {
        bail!(
            "journal {} already exists: add --resume to continue that run, or --overwrite to replace it",
            path.display()
        );
    }
    let (journal, resume) = if resuming {
        let (journal, resume) = procmap_batch::resume::open(path, &header(args), args.resume_failed)
            .map_err(|e| match e {
                OpenError::Write(e) => {
                    anyhow::Error::new(e).context(format!("cannot write journal {}", path.display()))
                }
                OpenError::Read(e) => {
                    anyhow::Error::new(e).context(format!("cannot read journal {}", path.display()))
                }
            })?;
        (journal, Some(resume))
    } else {
        let journal = Journal::file(path, false, &header(args))
            .with_context(|| format!("cannot write journal {}", path.display()))?;
        (journal, None)
    };
    if journal.repaired_bytes > 0 {
        say!(
            "supervisor: removed a torn last line ({} bytes) from {}: its job runs again",
            journal.repaired_bytes,
            path.display()
        );
    }
    if let Some(torn) = resume.as_ref().map(Resume::torn_lines).filter(|&n| n > 0) {
        say!("supervisor: ignoring {torn} unreadable line(s) in {}", path.display());
    }
    Ok((journal, resume))
}

/// The header of this run's segment of the journal.
fn header(args: &RunArgs) -> Header {
    let header = Header::new("supervisor");
    if args.mode == ModeArg::Auto { header.auto() } else { header }
}

/// The pool the flags describe, but for its worker program.
fn build_pool(
    args: &RunArgs,
    registry: Registry,
    mode: Mode,
    procs: usize,
    capture: procmap::wire::Capture,
) -> procmap::PoolBuilder {
    let context = RunContext { out_dir: args.out_dir.clone(), allow_outside: args.allow_outside };
    // Without a capture, the workers' lines are shown as they come.
    let forward = (capture == procmap::wire::Capture::None)
        .then(|| procmap::WorkerOutput(Arc::new(crate::capture::forward)));
    Pool::builder(registry)
        .procs(procs)
        .chunking(args.chunksize)
        .threads(args.threads as usize)
        .auto(args.mode == ModeArg::Auto)
        .mode(mode)
        .context(context)
        .retries(args.retries)
        .timeout(args.timeout)
        .mem_limit(args.mem_limit)
        .max_tasks_per_child(args.max_tasks_per_child)
        .stop_grace(args.grace)
        .capture(capture)
        .worker_output(forward)
        // The supervisor's only children are its workers: what their jobs
        // leave in sessions of their own is ours to kill.
        .kill_leftovers(true)
}

/// Writes every record of `run` to the journal as it arrives, and the
/// decisions of an auto run among them, flushing whenever nothing arrived
/// for a while, and calls `seen` with each record's status. Returns the
/// journal's error if writing it failed; the caller then ends the run.
fn write_journal(
    run: &mut procmap::Run,
    journal: &mut Journal,
    repeats: &Repeats,
    auto: &procmap::AutoLog,
    mut seen: impl FnMut(Status),
) -> Option<std::io::Error> {
    // Decisions come every half second at most: looked for every 256
    // records and whenever the run is quiet, not for every record.
    let mut decisions = 0;
    let mut write_decisions = |journal: &mut Journal| -> std::io::Result<()> {
        for change in auto.since(decisions) {
            journal.write_auto(&change)?;
            decisions += 1;
        }
        Ok(())
    };
    let mut records = 0u64;
    loop {
        let record = match run.next_timeout(FLUSH_EVERY) {
            Next::Record(record) => record,
            Next::Finished => return write_decisions(journal).and_then(|()| journal.flush()).err(),
            Next::Pending => {
                if let Err(e) = write_decisions(journal) {
                    return Some(e);
                }
                // Nothing arrived for a while: make what did arrive durable.
                if let Err(e) = journal.flush() {
                    return Some(e);
                }
                continue;
            }
        };
        records += 1;
        if records.is_multiple_of(256)
            && let Err(e) = write_decisions(journal)
        {
            return Some(e);
        }
        if let Err(e) = journal.write(&record, repeats.take(record.line)) {
            return Some(e);
        }
        seen(record.status);
    }
}

fn warn_process_only_flags(args: &RunArgs) {
    for (flag, set) in [
        ("--timeout", args.timeout.is_some()),
        ("--mem-limit", args.mem_limit.is_some()),
        ("--max-tasks-per-child", args.max_tasks_per_child.is_some()),
        ("--threads", args.threads > 1),
    ] {
        if set {
            say!("supervisor: warning: {flag} applies to process mode only; ignored in {:?} mode", args.mode);
        }
    }
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

/// Counts the jobs in the background so the run starts at once; the
/// progress bar gets its total when the count is done.
fn spawn_count(
    path: PathBuf,
    task: Option<String>,
    shard: Option<procmap_batch::shard::Shard>,
) -> std::sync::mpsc::Receiver<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(file) = std::fs::File::open(path) {
            let reader = BufReader::with_capacity(256 * 1024, file);
            let _ = tx.send(match shard {
                Some(shard) => procmap_batch::shard::count(reader, task, shard),
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
                say!("\nsupervisor: interrupted three times: exiting now");
                std::process::exit(exit::INTERRUPTED.into());
            }
            match stop.request_stop() {
                1 => say!(
                    "\nsupervisor: stopping: no new jobs; waiting for jobs in flight (interrupt again to kill them)"
                ),
                _ if exit_on_second => {
                    say!("\nsupervisor: interrupted again: exiting now; rerun with --resume");
                    std::process::exit(exit::INTERRUPTED.into());
                }
                _ => say!("\nsupervisor: killing the workers"),
            }
        }
    })?;
    Ok(count)
}
