//! Issue 22: records that can be drawn (`start`), and `supervisor report`.

use crate::util::*;
use serde_json::Value;

fn f(r: &Value, key: &str) -> f64 {
    r[key].as_f64().unwrap_or_else(|| panic!("no {key} in {r}"))
}

/// Jobs of one worker never overlap on the timeline, and every start lies
/// within the run: in every mode, `start` is the job's own start.
#[test]
fn every_mode_places_its_jobs_on_the_run_s_timeline() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", &"fault slow 40\n".repeat(6));
    for mode in ["process", "thread", "serial"] {
        let out = run(dir.supervisor().args(["-q", "-p", "2", "-c", "1", "--mode", mode]).arg(&jobs), None);
        assert_eq!(code(&out), 0, "{mode}: {}", stderr(&out));
        let mut records = stdout_records(&out);
        assert_eq!(records.len(), 6, "{mode}");
        records.sort_by(|a, b| f(a, "start").total_cmp(&f(b, "start")));
        let mut last_end = std::collections::HashMap::new();
        for r in &records {
            let (start, ms) = (f(r, "start"), f(r, "ms"));
            assert!((0.0..10_000.0).contains(&start), "{mode}: {r}");
            assert!(ms >= 39.0, "{mode}: {r}");
            let worker = r["worker"].as_u64().unwrap();
            if let Some(end) = last_end.insert(worker, start + ms) {
                assert!(start >= end - 0.01, "{mode}: worker {worker} ran two jobs at once: {records:?}");
            }
        }
        // Six jobs of 40 ms: on two workers they span at least 120 ms.
        let span = records.iter().map(|r| f(r, "start") + f(r, "ms")).fold(0.0, f64::max);
        let floor = if mode == "serial" { 240.0 } else { 120.0 };
        assert!(span >= floor - 1.0, "{mode}: span {span} ms: {records:?}");
    }
}

/// A crash and a timeout are placed on the timeline too.
#[test]
fn crashed_and_timed_out_records_carry_their_start() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 1\nfault segfault\nfault hang\ncube 2\n");
    for timeout in [None, Some("1s")] {
        let mut cmd = dir.supervisor();
        cmd.args(["-q", "-p", "2", "-c", "1", "--retries", "0"]);
        if let Some(t) = timeout {
            cmd.args(["--timeout", t]);
        }
        if timeout.is_none() {
            // Without a timeout the hang would never end.
            let jobs = dir.write("jobs2.txt", "cube 1\nfault segfault\ncube 2\n");
            cmd.arg(jobs);
        } else {
            cmd.arg(&jobs);
        }
        let out = run(&mut cmd, None);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        for r in stdout_records(&out) {
            let start = f(&r, "start");
            assert!((0.0..30_000.0).contains(&start), "{timeout:?}: {r}");
            if r["status"] == "timeout" {
                assert!(r.get("ms").is_none(), "{r}");
            }
        }
    }
}
