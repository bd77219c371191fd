//! The worker state machine driven by made-up events: no process, no
//! channel, no clock but the instants given.

use super::*;
use crate::process::blame::{self, Circumstances, Decision, summary};

const LIMITS: Limits = Limits { threads: 1, chunk_bytes: 48 * 1024, max_jobs: None };

fn job(id: u64) -> Tracked {
    Tracked::new(Job::new(id, "t", vec![]))
}

fn jobs(ids: std::ops::RangeInclusive<u64>) -> Vec<Tracked> {
    ids.map(job).collect()
}

/// A worker that has answered the handshake.
fn ready() -> WorkerState {
    let mut w = WorkerState::new(Instant::now());
    w.greeted(Instant::now());
    w.ready();
    w
}

/// Job time unknown (nothing timed yet).
fn untimed(_: usize) -> Option<Duration> {
    None
}

/// Jobs known to take 1 µs each.
fn tiny(jobs: usize) -> Option<Duration> {
    Some(Duration::from_micros(jobs as u64))
}

const IDLE: Room = Room::Chunk { idle: true, quota: None };
const BUSY: Room = Room::Chunk { idle: false, quota: None };

#[test]
fn a_worker_takes_nothing_until_it_has_answered_the_handshake() {
    let t0 = Instant::now();
    let mut w = WorkerState::new(t0);
    assert_eq!((w.phase, w.is_starting()), (Phase::Connecting, true));
    assert_eq!(w.room(&LIMITS, untimed), Room::None);
    let t1 = t0 + Duration::from_millis(3);
    w.greeted(t1);
    assert_eq!((w.phase, w.since), (Phase::Greeting, t1), "the handshake deadline counts from the hello");
    assert_eq!(w.room(&LIMITS, untimed), Room::None);
    w.ready();
    assert!(!w.is_starting());
    assert_eq!(w.room(&LIMITS, untimed), IDLE);
}

#[test]
fn two_chunks_fill_a_worker_whose_job_time_is_unknown() {
    let mut w = ready();
    w.sent(1, false, jobs(1..=4), 100);
    assert_eq!(w.room(&LIMITS, untimed), BUSY, "one more, so the next is queued");
    w.sent(2, false, jobs(5..=8), 100);
    assert_eq!(w.room(&LIMITS, untimed), Room::None);
}

/// Sends chunks of `size` jobs while the worker has room; how many it took.
fn fill(
    w: &mut WorkerState,
    limits: &Limits,
    size: u64,
    work: impl Fn(usize) -> Option<Duration> + Copy,
) -> u64 {
    let mut chunks = 0;
    while w.room(limits, work) != Room::None {
        assert!(chunks < 1000, "room without end");
        w.sent(chunks, false, jobs(size * chunks + 1..=size * (chunks + 1)), 10);
        chunks += 1;
    }
    chunks
}

#[test]
fn big_chunks_of_tiny_jobs_queue_deep_up_to_1024_jobs() {
    // Chunks of 64 tiny jobs each run faster than a round trip: 16 go.
    assert_eq!(fill(&mut ready(), &LIMITS, 64, tiny), 16);
    // The chunk cap: 32 chunks of 16 jobs (COALESCE_BELOW) are 512 jobs.
    assert_eq!(fill(&mut ready(), &LIMITS, 16, tiny), 32);
    // Jobs known to be slow never queue deep.
    assert_eq!(fill(&mut ready(), &LIMITS, 64, |n| Some(Duration::from_millis(n as u64))), 2);
    // Nor do jobs that add up to the work limit, however small each is:
    // 4 µs a job, 100 a chunk, 2 ms at the fifth.
    assert_eq!(fill(&mut ready(), &LIMITS, 100, |n| Some(Duration::from_micros(4 * n as u64))), 5);
    // Unknown job times: two chunks.
    assert_eq!(fill(&mut ready(), &LIMITS, 64, untimed), 2);
}

#[test]
fn small_chunks_queue_only_as_deep_as_blame_keeps_cheap() {
    // Results of chunks under 16 jobs may be held back, so a crash would
    // make suspects of all of them: at most 32 jobs' worth.
    assert_eq!(fill(&mut ready(), &LIMITS, 1, tiny), 32);
    assert_eq!(fill(&mut ready(), &LIMITS, 15, tiny), 3, "15 + 15 < 32, then 45");
    // In hybrid mode any job in flight may have been running: the same cap,
    // beyond the T + 1 chunks the threads need.
    let hybrid = Limits { threads: 4, ..LIMITS };
    assert_eq!(fill(&mut ready(), &hybrid, 64, tiny), 2, "two chunks, far more than a job per thread");
    assert_eq!(fill(&mut ready(), &hybrid, 4, tiny), 8);
}

#[test]
fn a_worker_with_many_threads_holds_two_jobs_per_thread_not_a_chunk_per_thread() {
    // Issue 21: `--mode auto` grows workers to 64 threads, for which the
    // auto chunker cuts chunks of 32 sleeping jobs: 4 chunks, 128 jobs,
    // rather than 65 chunks (T + 1), 2,080 jobs, all suspects in a crash.
    let many = Limits { threads: 64, ..LIMITS };
    assert_eq!(fill(&mut ready(), &many, 32, untimed), 4);
    // One job a chunk: a chunk per thread and one more, as before.
    assert_eq!(fill(&mut ready(), &many, 1, untimed), 65);
}

#[test]
fn a_worker_with_threads_holds_a_chunk_per_thread_and_one_more() {
    let limits = Limits { threads: 4, ..LIMITS };
    let mut w = ready();
    for id in 1..=5 {
        assert_ne!(w.room(&limits, untimed), Room::None, "chunk {id}");
        w.sent(id, false, jobs(id..=id), 10);
    }
    assert_eq!(w.room(&limits, untimed), Room::None);
}

#[test]
fn queued_bytes_are_capped_whatever_the_depth() {
    let mut w = ready();
    w.sent(1, false, jobs(1..=1), LIMITS.chunk_bytes - 1);
    assert_eq!(w.room(&LIMITS, tiny), BUSY);
    w.sent(2, false, jobs(2..=2), 1);
    assert_eq!(w.room(&LIMITS, tiny), Room::None, "a full socket buffer would block the dispatcher");
    w.finished(1).unwrap();
    w.chunk_done(1).unwrap();
    assert_eq!(w.inflight_bytes, 1);
    assert_eq!(w.room(&LIMITS, tiny), BUSY);
}

#[test]
fn a_suspect_rerun_alone_keeps_everything_else_away() {
    let mut w = ready();
    w.sent(1, true, jobs(9..=9), 10);
    assert_eq!(w.room(&LIMITS, tiny), Room::None);
    w.finished(9).unwrap();
    w.chunk_done(1).unwrap();
    assert_eq!(w.room(&LIMITS, tiny), IDLE);
}

#[test]
fn a_worker_being_killed_takes_nothing_and_keeps_the_first_reason() {
    let mut w = ready();
    w.killed(KillReason::Protocol);
    w.killed(KillReason::Stop);
    assert_eq!(w.kill, Some(KillReason::Protocol));
    assert_eq!(w.room(&LIMITS, untimed), Room::None);
}

#[test]
fn max_tasks_per_child_caps_chunks_then_retires_the_idle_worker() {
    let limits = Limits { max_jobs: Some(5), ..LIMITS };
    let mut w = ready();
    assert_eq!(w.room(&limits, untimed), Room::Chunk { idle: true, quota: Some(5) });
    w.sent(1, false, jobs(1..=3), 10);
    assert_eq!(w.room(&limits, untimed), Room::Chunk { idle: false, quota: Some(2) });
    w.sent(2, false, jobs(4..=5), 10);
    w.finished(1).unwrap();
    w.finished(2).unwrap();
    w.finished(3).unwrap();
    w.chunk_done(1).unwrap();
    assert_eq!(w.room(&limits, untimed), Room::None, "quota used up, a chunk still in flight");
    for id in 4..=5 {
        w.finished(id).unwrap();
    }
    w.chunk_done(2).unwrap();
    assert_eq!(w.room(&limits, untimed), Room::Retire);
    w.retire();
    assert!(w.end_expected());
    assert_eq!(w.room(&limits, untimed), Room::None);
}

#[test]
fn sending_counts_an_attempt_per_job_and_the_jobs_assigned() {
    let mut w = ready();
    let mut again = job(7);
    again.attempts = 2;
    w.sent(1, false, vec![again, job(8)], 10);
    let attempts: Vec<u32> = w.inflight[0].jobs.iter().map(|p| p.attempts).collect();
    assert_eq!(attempts, [3, 1]);
    assert_eq!((w.assigned, w.inflight_bytes), (2, 10));
}

#[test]
fn results_are_matched_in_any_order_and_each_only_once() {
    let mut w = ready();
    w.sent(1, false, jobs(1..=3), 10);
    w.sent(2, false, jobs(4..=5), 10);
    assert_eq!(w.finished(4).unwrap().job.id, 4);
    assert_eq!(w.finished(2).unwrap().job.id, 2);
    assert!(w.progressed);
    assert_eq!(w.finished(2).unwrap_err(), Violation::ResultNotInFlight { job: 2 });
    assert_eq!(w.finished(99).unwrap_err(), Violation::ResultNotInFlight { job: 99 });
    assert_eq!(w.chunk_done(1).unwrap_err(), Violation::ChunkIncomplete { chunk: 1, done: 1, jobs: 3 });
    assert_eq!(w.chunk_done(3).unwrap_err(), Violation::ChunkNotInFlight { chunk: 3 });
    w.finished(1).unwrap();
    w.finished(3).unwrap();
    w.chunk_done(1).unwrap();
    assert_eq!(w.inflight.len(), 1);
    assert_eq!(w.inflight_bytes, 10);
    assert_eq!(w.chunk_done(1).unwrap_err(), Violation::ChunkNotInFlight { chunk: 1 });
}

#[test]
fn the_jobs_without_a_result_are_the_unfinished_ones() {
    let mut w = ready();
    w.sent(1, false, jobs(1..=4), 10);
    w.finished(3).unwrap();
    w.finished(1).unwrap();
    let left: Vec<u64> = w.inflight[0].unfinished().map(|p| p.job.id).collect();
    assert_eq!(left, [2, 4]);
    let chunk = w.take_inflight().pop_front().unwrap();
    let left: Vec<u64> = chunk.into_unfinished().map(|p| p.job.id).collect();
    assert_eq!(left, [2, 4]);
}

#[test]
fn start_reports_track_running_jobs_up_to_the_thread_count() {
    let t0 = Instant::now();
    let mut w = ready();
    w.sent(1, false, jobs(1..=3), 10);
    w.started(1, t0, 2).unwrap();
    w.started(2, t0, 2).unwrap();
    assert_eq!(w.started(3, t0, 2).unwrap_err(), Violation::TooManyStarted);
    assert_eq!(w.running_ids(), [1, 2]);
    w.finished(1).unwrap();
    assert_eq!(w.running_ids(), [2], "a result ends the job's run");
}

#[test]
fn a_job_is_overdue_only_past_the_limit_and_only_once() {
    let t0 = Instant::now();
    let limit = Some(Duration::from_secs(2));
    let mut w = ready();
    w.sent(1, false, jobs(1..=2), 10);
    w.started(1, t0, 2).unwrap();
    w.started(2, t0 + Duration::from_secs(1), 2).unwrap();
    assert_eq!(w.next_overrun(limit), Some(t0 + Duration::from_secs(2)));
    assert_eq!(w.overdue(t0 + Duration::from_secs(2), limit), None, "at the limit is not past it");
    let late = t0 + Duration::from_millis(2500);
    assert_eq!(w.overdue(late, limit), Some((1, Duration::from_millis(2500))));
    assert_eq!(w.overdue(late, None), None, "no limit, no timeout");
    w.killed(KillReason::Timeout { job: 1, after: Duration::from_millis(2500) });
    assert_eq!(w.overdue(late + Duration::from_secs(9), limit), None, "already being killed");
    assert_eq!(w.next_overrun(limit), None);
}

#[test]
fn which_deaths_are_failed_starts() {
    let t0 = Instant::now();
    // Before the handshake, always.
    assert!(WorkerState::new(t0).failed_start(false));
    let mut greeting = WorkerState::new(t0);
    greeting.greeted(t0);
    assert!(greeting.failed_start(false));
    // Ready and idle: the OOM killer picks idle workers too.
    assert!(!ready().failed_start(true));
    // Holding jobs and, with start reports, having started none.
    let mut w = ready();
    w.sent(1, false, jobs(1..=2), 10);
    assert!(w.failed_start(true));
    assert!(!w.failed_start(false), "without start reports it may have been running one");
    w.started(1, t0, 1).unwrap();
    assert!(!w.failed_start(true));
}

#[test]
fn only_a_retiring_worker_or_our_stop_is_an_expected_end() {
    let mut w = ready();
    assert!(!w.end_expected());
    w.killed(KillReason::Timeout { job: 1, after: Duration::ZERO });
    assert!(!w.end_expected());
    let mut w = ready();
    w.killed(KillReason::Stop);
    assert!(w.end_expected());
}

fn how(running: Option<&[u64]>, kill: Option<KillReason>, retries: u32) -> Circumstances<'_> {
    Circumstances { threads: 1, running, kill, retries, by_caller: false }
}

#[test]
fn a_death_before_any_result_hands_every_job_to_blame_and_empties_the_worker() {
    let mut w = ready();
    w.sent(1, false, jobs(1..=2), 10);
    w.sent(2, false, jobs(3..=4), 10);
    // With start reports, nothing started: all innocent, attempts undone.
    let running = w.running_ids();
    let d = blame::blame(w.take_inflight(), &how(Some(&running), None, 2));
    // Each chunk's innocents are rerun as a batch of their own.
    assert_eq!(summary(&d), [("innocent", vec![1, 2]), ("innocent", vec![3, 4])]);
    for decision in &d {
        let Decision::Innocent(innocents) = decision else { unreachable!() };
        assert!(innocents.iter().all(|p| p.attempts == 0));
    }
    assert!(w.is_idle() && w.inflight_bytes == 0);
    // Without start reports, small chunks may all have been running.
    let mut w = ready();
    w.sent(1, false, jobs(1..=2), 10);
    let d = blame::blame(w.take_inflight(), &how(None, None, 2));
    assert_eq!(summary(&d), [("solo", vec![1]), ("solo", vec![2])]);
}

#[test]
fn a_crash_after_some_results_blames_the_one_job_left_until_retries_run_out() {
    for (retries, expected) in [(0, "crashed"), (2, "solo")] {
        let mut w = ready();
        w.sent(1, false, jobs(1..=3), 10);
        w.finished(1).unwrap();
        w.finished(2).unwrap();
        let d = blame::blame(w.take_inflight(), &how(None, None, retries));
        assert_eq!(summary(&d), [(expected, vec![3])], "retries {retries}");
    }
}

#[test]
fn a_kill_of_ours_for_a_timeout_blames_only_the_job_that_overran() {
    let t0 = Instant::now();
    let limit = Some(Duration::from_secs(1));
    let mut w = ready();
    w.sent(1, false, jobs(1..=1), 10);
    w.sent(2, false, jobs(2..=2), 10);
    w.started(1, t0, 1).unwrap();
    let (job, after) = w.overdue(t0 + Duration::from_secs(5), limit).expect("job 1 overran");
    w.killed(KillReason::Timeout { job, after });
    let running = w.running_ids();
    let d = blame::blame(w.take_inflight(), &how(Some(&running), w.kill, 2));
    assert_eq!(summary(&d), [("timeout", vec![1]), ("innocent", vec![2])]);
}
