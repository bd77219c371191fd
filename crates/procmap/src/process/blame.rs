//! Who is to blame when a worker dies: a pure function of what the
//! dispatcher knew about the worker's jobs, with no I/O, so that its rules
//! are unit-tested here rather than only end to end through real crashes.
//!
//! The rules (docs/architecture.md, "Blame"):
//! - A job with a result is never blamed: its record already left.
//! - A job without one either may have been running when the worker died
//!   (a *suspect*) or surely had not started (*innocent*: requeued with its
//!   attempt uncounted). With start reports (`--timeout`) the running jobs
//!   are known exactly. Otherwise a one-thread worker was in its oldest
//!   chunk or, since it may hold back the results of small chunks, in a
//!   later one up to the first big chunk (`wire::COALESCE_BELOW`); a worker
//!   with several threads may have been anywhere.
//! - Killed by us for a handshake or protocol fault: nobody is to blame.
//! - Killed by us for a timeout: only the job that overran is blamed; jobs
//!   beside it in other threads are requeued.
//! - One suspect is the culprit: rerun alone until it has crashed
//!   `retries + 1` times, then recorded as crashed. Several suspects are
//!   each rerun alone, so that the culprit is pinned without blaming the
//!   others, unless the caller judges them (`PoolBuilder::blame_by_caller`):
//!   then each is recorded as crashed, and the caller decides.

use super::state::{InFlight, KillReason, Tracked};
use std::time::Duration;

/// What the dispatcher knew about a worker when it died.
pub(crate) struct Circumstances<'a> {
    /// Threads per worker.
    pub threads: usize,
    /// The jobs the worker said it had started and not finished, when
    /// start reports are on (`--timeout`); `None` otherwise.
    pub running: Option<&'a [u64]>,
    /// Why we killed it, if we did.
    pub kill: Option<KillReason>,
    /// Reruns of a job that crashed its worker before it is recorded.
    pub retries: u32,
    /// Several suspects are the caller's to judge: each is recorded.
    pub by_caller: bool,
}

/// What to do with the dead worker's unfinished jobs. They come in the order
/// in which they should be rerun: suspects first, jobs that never started
/// last.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Jobs that never started: requeue them together, attempt uncounted.
    Innocent(Vec<Tracked>),
    /// Jobs that may have run but are not to blame (we killed the worker
    /// for a fault of its own, or a neighbour timed out): requeue together.
    Requeue(Vec<Tracked>),
    /// A suspect: rerun it alone, so that a second crash blames only it.
    Solo(Tracked),
    /// The culprit, out of retries: record it as crashed.
    Crashed(Tracked),
    /// The job that overran its time limit: record it as timed out.
    TimedOut { job: Tracked, after: Duration },
}

/// Decides the fate of every unfinished job of a dead worker.
pub(crate) fn blame(inflight: impl IntoIterator<Item = InFlight>, how: &Circumstances) -> Vec<Decision> {
    let (suspects, mut innocents) = sort_out(inflight, how);
    let mut decisions = Vec::new();
    match how.kill {
        Some(KillReason::Handshake | KillReason::Protocol) => {
            if !suspects.is_empty() {
                decisions.push(Decision::Requeue(suspects));
            }
        }
        Some(KillReason::Timeout { job, after }) => {
            let (culprit, others): (Vec<Tracked>, Vec<Tracked>) =
                suspects.into_iter().partition(|p| p.job.id == job);
            if !others.is_empty() {
                decisions.push(Decision::Requeue(others));
            }
            // The culprit may have finished in the grace period; then only
            // its neighbours were cut short.
            decisions.extend(culprit.into_iter().map(|job| Decision::TimedOut { job, after }));
        }
        // A stop of ours never reaches here with jobs to judge; treat it
        // like any death.
        Some(KillReason::Stop) | None => decisions.extend(judge_crash(suspects, how)),
    }
    // Each chunk's innocents stay a batch of their own: merged, a deep
    // queue's worth would be rerun as one chunk, and a crash in it would
    // make suspects of them all.
    for mut jobs in innocents.drain(..) {
        for p in &mut jobs {
            p.attempts -= 1;
        }
        decisions.push(Decision::Innocent(jobs));
    }
    decisions
}

/// Splits the unfinished jobs into suspects and innocents, the innocents
/// by chunk (empty chunks left out).
fn sort_out(
    inflight: impl IntoIterator<Item = InFlight>,
    how: &Circumstances,
) -> (Vec<Tracked>, Vec<Vec<Tracked>>) {
    let mut suspects = Vec::new();
    let mut innocents = Vec::new();
    let mut reached_big = false;
    for chunk in inflight {
        let could_have_started = how.threads > 1 || !reached_big;
        reached_big |= chunk.jobs.len() >= procmap_wire::COALESCE_BELOW;
        let mut chunk_innocents = Vec::new();
        for p in chunk.into_unfinished() {
            let suspect = match how.running {
                Some(running) => running.contains(&p.job.id),
                None => could_have_started,
            };
            if suspect { suspects.push(p) } else { chunk_innocents.push(p) }
        }
        if !chunk_innocents.is_empty() {
            innocents.push(chunk_innocents);
        }
    }
    (suspects, innocents)
}

fn judge_crash(mut suspects: Vec<Tracked>, how: &Circumstances) -> Vec<Decision> {
    if suspects.len() == 1 {
        let mut culprit = suspects.pop().expect("one suspect");
        culprit.crashes += 1;
        return vec![if culprit.crashes > how.retries {
            Decision::Crashed(culprit)
        } else {
            Decision::Solo(culprit)
        }];
    }
    if how.by_caller {
        return suspects
            .into_iter()
            .map(|mut p| {
                p.crashes += 1;
                Decision::Crashed(p)
            })
            .collect();
    }
    suspects.into_iter().map(Decision::Solo).collect()
}

/// A compact view of decisions for tests: kind and job ids.
#[cfg(test)]
pub(super) fn summary(decisions: &[Decision]) -> Vec<(&'static str, Vec<u64>)> {
    let ids = |jobs: &[Tracked]| jobs.iter().map(|p| p.job.id).collect();
    decisions
        .iter()
        .map(|d| match d {
            Decision::Innocent(j) => ("innocent", ids(j)),
            Decision::Requeue(j) => ("requeue", ids(j)),
            Decision::Solo(p) => ("solo", vec![p.job.id]),
            Decision::Crashed(p) => ("crashed", vec![p.job.id]),
            Decision::TimedOut { job, .. } => ("timeout", vec![job.job.id]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use procmap_wire::Job;

    /// A chunk of jobs `ids`, each sent once, of which `done` have results.
    fn chunk(ids: std::ops::RangeInclusive<u64>, done: &[u64]) -> InFlight {
        let jobs: Vec<Tracked> = ids
            .map(|id| Tracked { job: Job::new(id, "t", vec![]), attempts: 1, crashes: 0, sent: None })
            .collect();
        let mut chunk = InFlight::new(0, false, jobs, 0);
        for &id in done {
            chunk.finish(id).expect("job in chunk");
        }
        chunk
    }

    fn how(
        threads: usize,
        running: Option<&[u64]>,
        kill: Option<KillReason>,
        retries: u32,
    ) -> Circumstances<'_> {
        Circumstances { threads, running, kill, retries, by_caller: false }
    }

    #[test]
    fn one_suspect_is_the_culprit_and_is_rerun_alone_until_out_of_retries() {
        let d = blame([chunk(1..=3, &[1, 2])], &how(1, None, None, 2));
        assert_eq!(summary(&d), [("solo", vec![3])]);
        let Decision::Solo(mut p) = d.into_iter().next().unwrap() else { unreachable!() };
        assert_eq!(p.crashes, 1);
        // Crashes 2 and 3 (retries 2): rerun, then recorded.
        for (crashes, expected) in [(1, "solo"), (2, "crashed")] {
            p.crashes = crashes;
            let mut c = InFlight::new(0, false, vec![p], 0);
            c.cursor = 0;
            let d = blame([c], &how(1, None, None, 2));
            assert_eq!(summary(&d)[0].0, expected);
            p = match d.into_iter().next().unwrap() {
                Decision::Solo(p) | Decision::Crashed(p) => p,
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(p.crashes, 3);
    }

    #[test]
    fn with_no_retries_the_first_pinned_crash_is_recorded() {
        let d = blame([chunk(5..=5, &[])], &how(1, None, None, 0));
        assert_eq!(summary(&d), [("crashed", vec![5])]);
    }

    #[test]
    fn several_suspects_left_to_the_caller_are_each_recorded() {
        let mut how = how(4, Some(&[1, 3]), None, 0);
        how.by_caller = true;
        let d = blame([chunk(1..=3, &[])], &how);
        assert_eq!(summary(&d), [("crashed", vec![1]), ("crashed", vec![3]), ("innocent", vec![2])]);
        assert!(
            d.iter().all(|d| !matches!(d, Decision::Crashed(p) if p.crashes != 1)),
            "each suspect's crash is counted"
        );
        // One suspect is the culprit either way.
        let d = blame([chunk(1..=3, &[])], &Circumstances { running: Some(&[2]), ..how });
        assert_eq!(summary(&d), [("crashed", vec![2]), ("innocent", vec![1, 3])]);
    }

    #[test]
    fn three_suspects_are_each_rerun_alone_and_none_is_blamed_yet() {
        let d = blame([chunk(1..=3, &[])], &how(1, None, None, 2));
        assert_eq!(summary(&d), [("solo", vec![1]), ("solo", vec![2]), ("solo", vec![3])]);
        assert!(d.iter().all(|d| matches!(d, Decision::Solo(p) if p.crashes == 0)));
    }

    #[test]
    fn a_hundred_suspects_in_a_big_chunk_and_later_chunks_are_innocent() {
        // The worker was in its first chunk (100 jobs, at least
        // COALESCE_BELOW): the chunk behind it never started.
        let d = blame([chunk(1..=100, &[1, 2]), chunk(101..=110, &[])], &how(1, None, None, 2));
        let s = summary(&d);
        assert_eq!(s.len(), 98 + 1);
        assert_eq!(s[98], ("innocent", (101..=110).collect()));
        assert!(s[..98].iter().all(|(kind, j)| *kind == "solo" && j.len() == 1));
        let Decision::Innocent(innocents) = &d[98] else { unreachable!() };
        assert!(innocents.iter().all(|p| p.attempts == 0), "an innocent's attempt is not counted");
    }

    #[test]
    fn innocents_are_requeued_chunk_by_chunk() {
        // A deep queue: merged into one batch, a crash in it would make
        // suspects of every one.
        let d = blame(
            [chunk(1..=20, &[1]), chunk(21..=40, &[]), chunk(41..=60, &[])],
            &how(1, Some(&[2]), None, 2),
        );
        let s = summary(&d);
        assert_eq!(s[0], ("solo", vec![2]));
        assert_eq!(s[1], ("innocent", (3..=20).collect()));
        assert_eq!(s[2], ("innocent", (21..=40).collect()));
        assert_eq!(s[3], ("innocent", (41..=60).collect()));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn small_chunks_may_hold_results_so_suspects_reach_the_first_big_chunk() {
        let d = blame(
            [chunk(1..=2, &[]), chunk(3..=4, &[]), chunk(5..=20, &[]), chunk(21..=22, &[])],
            &how(1, None, None, 2),
        );
        let s = summary(&d);
        assert_eq!(s[20], ("innocent", vec![21, 22]));
        assert_eq!(s.len(), 20 + 1, "jobs 1-20 are suspects: {s:?}");
    }

    #[test]
    fn a_worker_with_threads_may_have_run_any_of_its_jobs() {
        let d = blame([chunk(1..=20, &[]), chunk(21..=22, &[])], &how(4, None, None, 2));
        assert!(summary(&d).iter().all(|(kind, _)| *kind == "solo"));
        assert_eq!(d.len(), 22);
    }

    #[test]
    fn start_reports_name_the_suspects_exactly() {
        let d = blame([chunk(1..=4, &[1])], &how(1, Some(&[2]), None, 2));
        assert_eq!(summary(&d), [("solo", vec![2]), ("innocent", vec![3, 4])]);
    }

    #[test]
    fn a_death_before_any_job_started_blames_nobody() {
        // With start reports and nothing started, every job is innocent.
        let d = blame([chunk(1..=4, &[])], &how(1, Some(&[]), None, 2));
        assert_eq!(summary(&d), [("innocent", vec![1, 2, 3, 4])]);
    }

    #[test]
    fn a_kill_of_ours_for_a_protocol_fault_blames_nobody() {
        for kill in [KillReason::Handshake, KillReason::Protocol] {
            let d = blame([chunk(1..=3, &[1])], &how(1, None, Some(kill), 0));
            assert_eq!(summary(&d), [("requeue", vec![2, 3])], "{kill:?}");
        }
    }

    #[test]
    fn a_timeout_in_hybrid_mode_blames_only_the_job_that_overran() {
        let after = Duration::from_secs(3);
        let kill = KillReason::Timeout { job: 7, after };
        let d = blame([chunk(5..=8, &[5]), chunk(9..=9, &[])], &how(4, Some(&[6, 7, 8]), Some(kill), 2));
        assert_eq!(summary(&d), [("requeue", vec![6, 8]), ("timeout", vec![7]), ("innocent", vec![9])]);
        assert!(matches!(&d[1], Decision::TimedOut { after: a, .. } if *a == after));
    }

    #[test]
    fn a_timed_out_job_that_finished_in_the_grace_period_is_not_recorded_twice() {
        let kill = KillReason::Timeout { job: 7, after: Duration::from_secs(3) };
        let d = blame([chunk(6..=8, &[7])], &how(4, Some(&[6, 8]), Some(kill), 2));
        assert_eq!(summary(&d), [("requeue", vec![6, 8])]);
    }
}
