//! The feeder: admission, claims and cutting chunks, on made-up inputs.

use super::handoff;
use super::*;
use crate::task::{JobError, Task};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Writes the file named by its one argument.
struct Writes;

impl Task for Writes {
    fn name(&self) -> &str {
        "writes"
    }
    fn usage(&self) -> &str {
        "OUTPUT"
    }
    fn about(&self) -> &str {
        "names one output"
    }
    fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<std::path::PathBuf>, JobError> {
        Ok(vec![args[0].clone().into()])
    }
    fn run(&self, _: &[String], _: &RunContext) -> Result<Value, JobError> {
        Ok(Value::Null)
    }
}

fn job(id: u64, output: &str) -> Input {
    Input::Job(Job::new(id, "writes", vec![output.into()]))
}

fn feeder(inputs: Vec<Input>) -> Feeder {
    let mut registry = Registry::new();
    registry.register(Writes);
    Feeder::new(Source::Blocking(Box::new(inputs.into_iter())), registry, RunContext::default())
}

#[test]
fn two_jobs_naming_one_output_refuse_the_second() {
    let mut feeder = feeder(vec![job(1, "x.png"), job(2, "x.png"), job(3, "y.png")]);
    let mut rejected = Vec::new();
    let chunk = feeder.next_chunk(10, true, &mut rejected);
    assert_eq!(chunk.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].error.as_deref().unwrap().contains("also the output of line 1"));
}

#[test]
fn a_failed_job_releases_its_outputs_but_only_its_own() {
    let mut feeder = feeder(vec![job(1, "x.png"), job(2, "y.png"), job(3, "x.png"), job(4, "y.png")]);
    let mut rejected = Vec::new();
    assert_eq!(feeder.next_chunk(2, true, &mut rejected).len(), 2);
    // Line 1 failed: it wrote nothing. Line 4's y.png stays line 2's.
    let failed = JobRecord::rejected(1, "writes".into(), vec!["x.png".into()], "no input".into());
    feeder.release_claims(&failed);
    let not_owner = JobRecord::rejected(9, "writes".into(), vec!["y.png".into()], "x".into());
    feeder.release_claims(&not_owner);
    let chunk = feeder.next_chunk(2, true, &mut rejected);
    assert_eq!(chunk.iter().map(|j| j.id).collect::<Vec<_>>(), [3]);
    assert_eq!(rejected.len(), 1, "line 4 is refused: line 2 still owns y.png");
    assert_eq!(rejected[0].line, 4);
}

fn cube(id: u64, arg: &str) -> Input {
    Input::Job(Job::new(id, "writes", vec![arg.into()]))
}

fn ids(jobs: &[Job]) -> Vec<u64> {
    jobs.iter().map(|j| j.id).collect()
}

#[test]
fn a_job_costs_its_text_and_a_fixed_overhead() {
    let job = Job::new(1, "abc", vec!["de".into(), "f".into()]);
    assert_eq!(job_bytes(&job), 16 + 3 + (2 + 2) + (1 + 2));
}

#[test]
fn chunks_stop_at_the_byte_cap_and_the_rest_waits_for_the_next() {
    // Each job is a bit over a quarter of the cap: three fit, not four.
    let big = "x".repeat(CHUNK_BYTES / 4);
    let inputs = (1..=5).map(|i| cube(i, &format!("{big}{i}"))).collect();
    let mut feeder = feeder(inputs);
    let mut rejected = Vec::new();
    let first = feeder.next_chunk(100, true, &mut rejected);
    assert_eq!(ids(&first), [1, 2, 3]);
    assert!(!feeder.is_exhausted(), "jobs 4 and 5 are held");
    assert_eq!(ids(&feeder.next_chunk(100, true, &mut rejected)), [4, 5]);
    assert!(feeder.is_exhausted());
    assert!(feeder.next_chunk(100, true, &mut rejected).is_empty());
    assert!(rejected.is_empty());
}

#[test]
fn jobs_that_fill_the_cap_exactly_go_together() {
    // Four jobs of exactly a quarter of the cap each: 16 + 6 + (len + 2).
    // (Distinct outputs: the last character is the job's number.)
    let arg = "x".repeat(CHUNK_BYTES / 4 - 16 - "writes".len() - 2 - 1);
    let inputs = (1..=5).map(|i| cube(i, &format!("{arg}{i}"))).collect();
    let mut feeder = feeder(inputs);
    let mut rejected = Vec::new();
    assert_eq!(ids(&feeder.next_chunk(100, true, &mut rejected)), [1, 2, 3, 4]);
    assert_eq!(ids(&feeder.next_chunk(100, true, &mut rejected)), [5]);
}

#[test]
fn ordinary_jobs_are_cut_by_count_long_before_the_byte_cap() {
    let inputs = (1..=1000).map(|i| cube(i, &format!("{i}.png"))).collect();
    let mut feeder = feeder(inputs);
    let mut rejected = Vec::new();
    assert_eq!(feeder.next_chunk(500, true, &mut rejected).len(), 500);
    assert_eq!(feeder.next_chunk(64, true, &mut rejected).len(), 64);
}

#[test]
fn a_job_bigger_than_a_chunk_goes_alone() {
    let huge = "x".repeat(CHUNK_BYTES * 2);
    let mut feeder = feeder(vec![cube(1, "a"), cube(2, &huge), cube(3, "b")]);
    let mut rejected = Vec::new();
    assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [1]);
    assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [2]);
    assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [3]);
}

#[test]
fn a_job_over_the_size_limit_is_refused_and_one_at_it_is_not() {
    let at_limit = "x".repeat(procmap_wire::MAX_JOB_BYTES - 16 - "writes".len() - 2);
    let over = format!("{at_limit}y");
    let mut feeder = feeder(vec![cube(1, &at_limit), cube(2, &over)]);
    let mut rejected = Vec::new();
    let mut ran = Vec::new();
    while !feeder.is_exhausted() {
        ran.extend(ids(&feeder.next_chunk(10, true, &mut rejected)));
    }
    assert_eq!(ran, [1]);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].error.as_deref().unwrap().contains("bytes long"), "{:?}", rejected[0].error);
}

#[test]
fn tasks_a_worker_names_are_the_known_ones() {
    let mut feeder = feeder(vec![cube(1, "a"), Input::Job(Job::new(2, "other", vec![]))]);
    // The worker has "other" (a custom task) and not "writes".
    feeder.set_known(["other".to_owned()]);
    let mut rejected = Vec::new();
    assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [2]);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].error.as_deref().unwrap().contains("unknown task \"writes\""));
}

#[test]
fn a_done_job_keeps_its_outputs_claimed_and_plans_them() {
    let done = Input::Done(Job::new(1, "writes", vec!["x.png".into()]));
    let mut feeder = feeder(vec![done, cube(2, "x.png"), cube(3, "y.png")]);
    let job = Job::new(3, "writes", vec!["y.png".into()]);
    assert_eq!(feeder.outputs(&job), [std::path::PathBuf::from("y.png")]);
    let mut rejected = Vec::new();
    assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [3]);
    assert_eq!(rejected.len(), 1, "line 2 would overwrite done line 1's output");
    assert_eq!(rejected[0].line, 2);
}

#[test]
fn a_busy_worker_waits_for_a_full_chunk_from_a_slow_producer() {
    // A producer that has sent two jobs and then pauses.
    let (tx, queue) = handoff::bounded(16);
    tx.push(cube(1, "a")).unwrap();
    tx.push(cube(2, "b")).unwrap();
    let hungry = Arc::new(AtomicBool::new(false));
    let source = Source::Background { queue, taken: VecDeque::new(), hungry: Arc::clone(&hungry) };
    let mut registry = Registry::new();
    registry.register(Writes);
    let mut feeder = Feeder::new(source, registry, RunContext::default());
    let mut rejected = Vec::new();
    // Not idle (partial = false): better a full chunk a moment later.
    assert!(feeder.next_chunk(4, false, &mut rejected).is_empty());
    assert!(!hungry.load(Ordering::Acquire), "a busy worker does not ask to be woken");
    // Idle: take what there is, and ask to be woken for more.
    assert_eq!(ids(&feeder.next_chunk(4, true, &mut rejected)), [1, 2]);
    assert!(hungry.load(Ordering::Acquire), "an idle worker asks to be woken");
    assert!(!feeder.is_exhausted(), "the producer may send more");
    drop(tx);
    assert!(feeder.next_chunk(4, true, &mut rejected).is_empty());
    assert!(feeder.is_exhausted());
}

#[test]
fn a_job_to_run_alone_goes_at_once_even_from_a_slow_producer() {
    // A suspect's rerun (Input::Alone) is a chunk by itself: not held back
    // for a fuller chunk while the producer pauses.
    let (tx, queue) = handoff::bounded(16);
    tx.push(Input::Alone(Job::new(7, "writes", vec!["g".into()]))).unwrap();
    let hungry = Arc::new(AtomicBool::new(false));
    let source = Source::Background { queue, taken: VecDeque::new(), hungry };
    let mut registry = Registry::new();
    registry.register(Writes);
    let mut feeder = Feeder::new(source, registry, RunContext::default());
    let mut rejected = Vec::new();
    let cut = feeder.next_chunk(4, false, &mut rejected);
    assert_eq!((ids(&cut), cut.alone), (vec![7], true));
    drop(tx);
}

#[test]
fn a_job_to_run_alone_is_a_chunk_of_its_own() {
    let alone = Input::Alone(Job::new(3, "writes", vec!["c".into()]));
    let mut feeder = feeder(vec![cube(1, "a"), cube(2, "b"), alone, cube(4, "d"), cube(5, "e")]);
    let mut rejected = Vec::new();
    let first = feeder.next_chunk(10, false, &mut rejected);
    assert_eq!((ids(&first), first.alone), (vec![1, 2], false), "it ends the chunk before it");
    let second = feeder.next_chunk(10, false, &mut rejected);
    assert_eq!((ids(&second), second.alone), (vec![3], true));
    let third = feeder.next_chunk(10, true, &mut rejected);
    assert_eq!((ids(&third), third.alone), (vec![4, 5], false));
}
