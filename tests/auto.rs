//! Issue 21: `--mode auto` measures the jobs and picks threads per worker:
//! one for CPU-bound jobs, more for jobs that wait; says so in the journal,
//! the summary and `-v`; and a crash still costs only its own job. The
//! assertions are on the recorded decisions, never on wall time.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

/// The journal's `{"auto":...}` decision lines, in order, after checking
/// that its header says the run was auto.
fn decisions(journal: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(journal).expect("the journal");
    let header: Value = serde_json::from_str(text.lines().next().expect("a header")).unwrap();
    assert_eq!(header["mode"], "auto", "the header says auto: {header}");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("auto").cloned())
        .collect()
}

fn threads(decision: &Value) -> u64 {
    decision["threads"].as_u64().expect("threads in a decision")
}

/// Jobs that keep a CPU busy for 25 ms each: one thread per worker, and
/// the journal, the summary and the log say why.
#[test]
fn auto_keeps_one_thread_per_worker_for_cpu_bound_jobs_and_says_why() {
    let dir = Dir::new();
    // 80 × 25 ms on 2 workers: over a second, two windows or more.
    let jobs = dir.write("jobs.txt", &"fault spin 25\n".repeat(80));
    let out =
        run(dir.supervisor().args(["--mode", "auto", "-p", "2", "-v", "-o", "j.jsonl"]).arg(&jobs), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let decided = decisions(&dir.join("j.jsonl"));
    assert!(!decided.is_empty(), "a decision in the journal; stderr: {}", stderr(&out));
    for d in &decided {
        assert_eq!(threads(d), 1, "CPU-bound: one thread per worker: {d}");
        assert_eq!(d["procs"], 2);
    }
    let reason = decided[0]["reason"].as_str().unwrap();
    assert!(reason.contains("CPU-bound") && reason.ends_with("2 procs × 1 thread"), "{reason}");
    let err = stderr(&out);
    assert!(err.contains("(auto mode, 2 procs,"), "the summary's setting: {err}");
    assert!(err.contains(&format!("s: {reason}")), "the summary says why: {err}");
    assert!(err.contains(&format!("auto: {reason}")), "-v logs it: {err}");
    let records = journal(&dir.join("j.jsonl"));
    assert_eq!(records.len(), 80);
    assert!(records.iter().all(|r| r["status"] == "ok"));
    assert!(records.iter().all(|r| r["cpu_ms"].as_f64().is_some()), "each 25 ms job is measured");
}

/// Jobs that sleep 20 ms: more threads per worker, said so, and every job
/// done once.
#[test]
fn auto_raises_threads_per_worker_for_jobs_that_wait() {
    let dir = Dir::new();
    let text: String = (1..=400).map(|x| format!("{x} 20\n")).collect();
    let jobs = dir.write("jobs.txt", &text);
    let out = run(
        dir.supervisor().args(["--mode", "auto", "--task", "cube", "-p", "2", "-o", "j.jsonl"]).arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let decided = decisions(&dir.join("j.jsonl"));
    let first = decided.first().unwrap_or_else(|| panic!("no decision; stderr: {}", stderr(&out)));
    assert!(threads(first) > 1, "sleeping jobs get more threads: {first}");
    let reason = first["reason"].as_str().unwrap();
    assert!(reason.contains("the jobs wait"), "{reason}");
    assert!(reason.ends_with(&format!("2 procs × {} threads", threads(first))), "{reason}");
    let err = stderr(&out);
    assert!(err.contains("auto at ") && err.contains(reason), "the summary says why: {err}");
    let records = journal(&dir.join("j.jsonl"));
    let mut lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=400).collect::<Vec<_>>(), "every job once");
    assert!(records.iter().all(|r| r["status"] == "ok" && r["value"].is_u64()));
}

/// A segfault after the workers grew to several threads: only that job is
/// recorded crashed (after its retries), every other job is ok once. The
/// marker a worker kept while it had one thread must not be read after it
/// grew: it would name a job long finished, and nobody would be blamed.
#[test]
fn a_crash_in_an_auto_run_costs_only_its_own_job() {
    let dir = Dir::new();
    // At one thread per worker the first window (0.05 s and 8 jobs) sees
    // about 8 of these; line 300 comes long after the workers grew.
    let mut text: String = (1..=600).map(|x| format!("cube {x} 20\n")).collect();
    text = text.replacen("cube 300 20\n", "fault segfault\n", 1);
    let jobs = dir.write("jobs.txt", &text);
    // No retries: a job wrongly judged the culprit is recorded crashed at
    // once, which judging a grown worker by the one-thread rules (the
    // oldest chunk was running) would do.
    let out = run(
        dir.supervisor().args(["--mode", "auto", "-p", "2", "--retries", "0", "-o", "j.jsonl"]).arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 1, "a job failed: {}", stderr(&out));
    let decided = decisions(&dir.join("j.jsonl"));
    assert!(decided.iter().any(|d| threads(d) > 1), "the workers grew: {decided:?}");
    // The job killed two workers at most: once among the other jobs of its
    // grown worker, which are all suspects, and once alone. Judged by the
    // one-thread rules, its death would make suspects of the oldest chunk
    // only, and it would be requeued as innocent and crash again and again.
    let err = stderr(&out);
    let replaced = err
        .lines()
        .find_map(|l| l.trim().strip_suffix(" worker process(es) replaced (crashes, timeouts or recycling)"))
        .map_or(0, |n| n.parse::<u32>().expect("a count"));
    assert!(replaced <= 2, "{replaced} workers died for one bad job: {err}");
    let records = journal(&dir.join("j.jsonl"));
    let mut lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=600).collect::<Vec<_>>(), "one record per job");
    for r in &records {
        if r["line"] == 300 {
            assert_eq!(r["status"], "crashed", "{r}");
            assert_eq!(r["signal"], "SIGSEGV", "{r}");
            // One run alone, after the first among its worker's other
            // jobs when it held several (the hybrid rule: that first death
            // blames nobody).
            let attempts = r["attempts"].as_u64().unwrap();
            assert!((1..=2).contains(&attempts), "{r}");
        } else {
            assert_eq!(r["status"], "ok", "{r}");
            // A worker with several threads may have been running any job
            // it held: each is rerun alone once (the hybrid rule).
            assert!(r["attempts"].as_u64().unwrap() <= 2, "{r}");
        }
    }
}
