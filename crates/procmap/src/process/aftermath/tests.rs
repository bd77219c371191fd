//! A death as the dispatcher handles it, with real processes that really
//! end (`sh -c 'exit 3'`), fake states and no worker runtime: who is
//! blamed, which records go out, what is rerun, when the run gives up.

use super::*;
use crate::input::{Chunking, Source};
use crate::task::{Registry, Task};
use child::{Launch, Worker};
use procmap_wire::RunContext;
use state::Phase;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;

/// A task whose one output is its first argument, to find temporary files.
struct Writes;

impl Task for Writes {
    fn name(&self) -> &str {
        "writes"
    }
    fn usage(&self) -> &str {
        "PATH"
    }
    fn about(&self) -> &str {
        "writes PATH"
    }
    fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<PathBuf>, crate::JobError> {
        Ok(vec![PathBuf::from(&args[0])])
    }
    fn run(&self, _: &[String], _: &RunContext) -> Result<serde_json::Value, crate::JobError> {
        Ok(serde_json::Value::Null)
    }
}

fn config(program: &str, retries: u32, timeout: Option<Duration>) -> Config {
    Config {
        procs: 1,
        chunking: Chunking::Fixed(1),
        threads: 1,
        auto: false,
        program: program.into(),
        worker_args: vec![OsString::from("-c"), OsString::from("exit 3")],
        zygote: None,
        worker_output: None,
        context: RunContext::default(),
        retries,
        timeout,
        exact_blame: false,
        blame_by_caller: false,
        mem_limit: None,
        max_tasks_per_child: None,
        flush_interval: Duration::from_millis(10),
        handshake_timeout: Duration::from_secs(10),
        kill_grace: Duration::from_secs(1),
        stop_grace: Duration::from_secs(1),
        // It would kill other tests' children: this process is theirs too.
        kill_leftovers: false,
        capture: procmap_wire::Capture::None,
    }
}

fn dispatcher(cfg: Config) -> Dispatcher {
    let mut registry = Registry::new();
    registry.register(Writes);
    let feeder = Feeder::new(Source::Blocking(Box::new(std::iter::empty())), registry, RunContext::default());
    let (out, _) = crossbeam_channel::unbounded();
    Dispatcher::new(Arc::new(cfg), feeder, out, Arc::new(AtomicU8::new(0)), crossbeam_channel::bounded(32))
}

/// A worker process running `script`, in `phase`, put in slot 0.
fn worker(d: &mut Dispatcher, script: &str, phase: Phase) -> u32 {
    let args = [OsString::from("-c"), OsString::from(script)];
    let launch = Launch {
        program: Path::new("/bin/sh"),
        args: &args,
        zygote: None,
        output: None,
        mem_limit: None,
        marker: None,
    };
    let mut w = Worker::spawn(&launch, 0, 1, &d.events_tx).expect("spawn sh");
    w.state.phase = phase;
    let pid = w.pid;
    d.slots[0] = Some(w);
    pid
}

fn tracked(id: u64, attempts: u32, crashes: u32) -> Tracked {
    let mut t = Tracked::new(procmap_wire::Job::new(id, "cube", vec![id.to_string()]));
    t.attempts = attempts;
    t.crashes = crashes;
    t
}

fn send(d: &mut Dispatcher, chunk: u64, solo: bool, jobs: Vec<Tracked>) {
    d.slots[0].as_mut().unwrap().state.sent(chunk, solo, jobs, 10);
}

fn rerun_ids(d: &Dispatcher) -> Vec<(Vec<u64>, bool)> {
    d.retry.iter().map(|b| (b.jobs.iter().map(|t| t.job.id).collect(), b.solo)).collect()
}

/// Unblocks the accept threads of the workers left in the slots.
fn end(d: &mut Dispatcher) {
    for w in d.slots.iter_mut().flatten() {
        w.state.phase = Phase::Connecting;
        w.unblock_accept();
    }
}

#[test]
fn suspects_of_a_crash_rerun_alone_in_order_and_a_replacement_starts() {
    let mut d = dispatcher(config("/bin/sh", 2, None));
    worker(&mut d, "exit 3", Phase::Ready);
    send(&mut d, 1, false, vec![tracked(10, 0, 0), tracked(11, 0, 0), tracked(12, 0, 0)]);
    d.on_death(0);
    assert_eq!(rerun_ids(&d), [(vec![10], true), (vec![11], true), (vec![12], true)]);
    assert!(d.out_buf.is_empty());
    assert_eq!((d.start_failures, d.spawned), (0, 1), "a worker that had started, replaced");
    assert!(d.slots[0].is_some() && d.fatal.is_none());
    end(&mut d);
}

#[test]
fn a_culprit_out_of_retries_is_recorded_crashed_with_its_workers_death() {
    let mut d = dispatcher(config("/bin/sh", 1, None));
    let pid = worker(&mut d, "echo boom >&2; exit 3", Phase::Ready);
    let mut culprit = tracked(7, 1, 1);
    culprit.sent = Some(d.started + Duration::from_millis(1500));
    send(&mut d, 1, true, vec![culprit]);
    d.on_death(0);
    assert!(d.retry.is_empty());
    assert_eq!(d.out_buf.len(), 1);
    let r = &d.out_buf[0];
    assert_eq!((r.line, r.status, r.attempts, r.worker), (7, Status::Crashed, 2, Some(pid)));
    assert_eq!((r.exit_code, r.signal.as_deref()), (Some(3), None));
    assert_eq!(
        r.error.as_deref(),
        Some(
            format!(
                "its worker died on each of its 2 attempts; the last time worker {pid} exited with code 3"
            )
            .as_str()
        )
    );
    assert_eq!(r.stderr.as_deref(), Some("boom"));
    assert_eq!(r.start, Some(1500.0), "placed when its chunk was sent");
    assert_eq!((r.task.as_str(), &r.args[..]), ("cube", &["7".to_owned()][..]));
    end(&mut d);
}

#[test]
fn a_culprit_on_its_only_attempt_says_so_and_a_signal_is_named() {
    let mut d = dispatcher(config("/bin/sh", 0, None));
    let pid = worker(&mut d, "kill -SEGV $$", Phase::Ready);
    send(&mut d, 1, true, vec![tracked(7, 0, 0)]);
    d.on_death(0);
    let r = &d.out_buf[0];
    assert_eq!(
        (r.status, r.attempts, r.exit_code, r.signal.as_deref()),
        (Status::Crashed, 1, None, Some("SIGSEGV"))
    );
    let error = r.error.as_deref().unwrap();
    assert!(
        error.starts_with(&format!(
            "its worker died on its only attempt; the last time worker {pid} was killed by SIGSEGV"
        )),
        "{error}"
    );
    assert_eq!(r.stderr, None, "an empty stderr is none");
    end(&mut d);
}

#[test]
fn a_job_that_overran_gets_a_timeout_record_with_its_run_time() {
    let mut d = dispatcher(config("/bin/sh", 2, Some(Duration::from_millis(1500))));
    let pid = worker(&mut d, "exit 0", Phase::Ready);
    send(&mut d, 1, false, vec![tracked(5, 0, 0)]);
    let w = d.slots[0].as_mut().unwrap();
    w.state.running.push((5, d.started + Duration::from_millis(250)));
    w.state.killed(KillReason::Timeout { job: 5, after: Duration::from_millis(1750) });
    d.on_death(0);
    assert_eq!(d.out_buf.len(), 1);
    let r = &d.out_buf[0];
    assert_eq!((r.line, r.status, r.attempts), (5, Status::Timeout, 1));
    assert_eq!(
        r.error.as_deref(),
        Some(format!("timed out: ran 1750ms (limit 1500ms); worker {pid} was killed and replaced").as_str())
    );
    assert_eq!(r.ms, Some(1750.0));
    assert_eq!(r.start, Some(250.0), "placed by its start report");
    end(&mut d);
}

#[test]
fn workers_that_die_before_the_handshake_end_the_run_on_the_third() {
    let mut d = dispatcher(config("/bin/sh", 2, None));
    for failures in 1..=3 {
        worker(&mut d, "echo cannot load libfoo >&2; exit 3", Phase::Connecting);
        send(&mut d, failures, false, vec![tracked(failures, 0, 0)]);
        d.on_death(0);
        assert_eq!(d.start_failures, failures as u32);
        assert_eq!(d.fatal.is_some(), failures == 3, "after {failures} failed starts");
    }
    let Some(PoolError::WorkerStart { stderr, failure, .. }) = &d.fatal else { panic!("{:?}", d.fatal) };
    assert_eq!(stderr, "cannot load libfoo");
    assert!(failure.to_string().contains("exited with code 3"), "{failure}");
    end(&mut d);
}

#[test]
fn a_death_we_asked_for_is_no_failed_start_and_its_jobs_are_not_judged() {
    // Killed by our stop: nothing is counted, blamed or requeued.
    let mut d = dispatcher(config("/bin/sh", 2, None));
    worker(&mut d, "exit 3", Phase::Connecting);
    send(&mut d, 1, false, vec![tracked(1, 0, 0)]);
    d.slots[0].as_mut().unwrap().state.killed(KillReason::Stop);
    d.on_death(0);
    assert_eq!((d.start_failures, d.retry.len(), d.out_buf.len()), (0, 0, 0));
    // While the run stops: likewise, and nothing replaces it.
    let mut d = dispatcher(config("/bin/sh", 2, None));
    worker(&mut d, "exit 3", Phase::Connecting);
    send(&mut d, 1, false, vec![tracked(1, 0, 0)]);
    d.stopping = Some(Instant::now());
    d.on_death(0);
    assert_eq!((d.start_failures, d.retry.len(), d.spawned), (0, 0, 0));
    assert!(d.slots[0].is_none());
    // A failed start not asked for: counted, and its jobs rerun.
    let mut d = dispatcher(config("/bin/sh", 2, None));
    worker(&mut d, "exit 3", Phase::Greeting);
    send(&mut d, 1, false, vec![tracked(1, 0, 0)]);
    d.on_death(0);
    assert_eq!((d.start_failures, rerun_ids(&d)), (1, vec![(vec![1], true)]));
    end(&mut d);
}

#[test]
fn a_replacement_that_cannot_be_spawned_is_retried_after_a_delay_then_fatal() {
    let mut d = dispatcher(config("/nonexistent/worker", 2, None));
    d.retry.push_back(Batch::rerun(vec![tracked(1, 0, 0)], false));
    for failures in 1..=3u32 {
        let before = Instant::now();
        d.respawn(0);
        assert_eq!(d.start_failures, failures);
        if failures < 3 {
            assert!(d.fatal.is_none());
            let (slot, at) = *d.respawn_at.last().unwrap();
            assert_eq!(slot, 0);
            assert!(at >= before + RESPAWN_DELAY, "retried after the delay");
        }
    }
    assert!(matches!(d.fatal, Some(PoolError::Spawn { .. })), "{:?}", d.fatal);
    assert_eq!(d.respawn_at.len(), 2);
    // With no work left, nothing is spawned or counted.
    let mut d = dispatcher(config("/nonexistent/worker", 2, None));
    d.feeder.set_known(std::iter::empty());
    let _ = d.feeder.next_chunk(1, true, &mut Vec::new());
    d.respawn(0);
    assert_eq!((d.start_failures, d.respawn_at.len()), (0, 0));
}

#[test]
fn a_dead_workers_temporary_files_are_removed_and_only_its_own() {
    let dir = std::env::temp_dir().join(format!("procmap-aftermath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("x.png");
    let mut d = dispatcher(config("/bin/sh", 2, None));
    let pid = worker(&mut d, "exit 3", Phase::Ready);
    let job = procmap_wire::Job::new(1, "writes", vec![output.display().to_string()]);
    send(&mut d, 1, false, vec![Tracked::new(job)]);
    let prefix = crate::task::temp_file_prefix(&output, pid).unwrap();
    let mine = dir.join(format!("{}1.tmp", prefix.to_str().unwrap()));
    let other = dir.join(format!(".x.png.{}.1.tmp", pid + 1));
    std::fs::write(&mine, "").unwrap();
    std::fs::write(&other, "").unwrap();
    d.on_death(0);
    assert!(!mine.exists(), "the dead worker's temporary file");
    assert!(other.exists(), "another worker's");
    std::fs::remove_dir_all(&dir).unwrap();
    end(&mut d);
}

#[test]
fn helpers_say_durations_and_drop_empty_text() {
    assert_eq!(non_empty(""), None);
    assert_eq!(non_empty("x").as_deref(), Some("x"));
    assert_eq!(human_duration(Duration::from_millis(9_999)), "9999ms");
    assert_eq!(human_duration(Duration::from_millis(10_000)), "10.0s");
    assert_eq!(human_duration(Duration::from_millis(12_345)), "12.3s");
}

#[test]
fn a_worker_that_marks_blames_only_the_marked_job_and_its_neighbours_rerun_uncounted() {
    let mut d = dispatcher(config("/bin/sh", 2, None));
    worker(&mut d, "exit 3", Phase::Ready);
    let file = d.marks.as_ref().expect("a marker directory").file(0, 1).unwrap();
    crate::marker::Marker::open(&file).unwrap().set(11);
    d.slots[0].as_mut().unwrap().marks = true;
    send(&mut d, 1, false, vec![tracked(10, 0, 0), tracked(11, 0, 0), tracked(12, 0, 0)]);
    d.on_death(0);
    assert_eq!(rerun_ids(&d), [(vec![11], true), (vec![10, 12], false)]);
    let attempts: Vec<u32> = d.retry.iter().flat_map(|b| b.jobs.iter().map(|t| t.attempts)).collect();
    assert_eq!(attempts, [1, 0, 0], "only the marked job's run counts");
    end(&mut d);
}
