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
                // How long it ran before it was killed: the timeline's bar.
                assert!(f(&r, "ms") >= 1000.0 && f(&r, "ms") < 20_000.0, "{r}");
            }
            if r["status"] == "crashed" {
                assert!(r.get("ms").is_none(), "{r}");
            }
        }
    }
}

/// The first headless browser on PATH (scripts/setup-browser.sh installs
/// Debian's `chromium-headless-shell`).
fn browser() -> String {
    for name in ["chromium-headless-shell", "chromium"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return name.to_owned();
        }
    }
    panic!("no headless Chromium on PATH: run scripts/setup-browser.sh (scripts/setup.sh does)");
}

/// Runs the browser on `page` with `args`, within a deadline.
fn render(dir: &Dir, page: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(browser());
    cmd.args(["--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600"])
        .arg(format!("--user-data-dir={}", dir.join("chromium").display()))
        .args(args)
        .arg(format!("file://{}", page.display()));
    let out = run(&mut cmd, None);
    assert!(out.status.success(), "the browser failed: {}", stderr(&out));
    out
}

/// Issue 22 #5: a real run with a crash and a timeout, its report opened in
/// a real browser: a screenshot is taken, and the DOM it parsed has a lane
/// per worker, bars of each status and the failures grouped.
#[test]
fn a_report_of_a_run_with_a_crash_and_a_timeout_renders_in_a_browser() {
    let dir = Dir::new();
    let mut jobs: String = (1..=200).map(|i| format!("cube {i}\n")).collect();
    jobs.push_str("fault segfault\nfault hang\nfault panic\ncube 201\n");
    let jobs = dir.write("jobs.txt", &jobs);
    let journal = dir.join("journal.jsonl");
    let out = run(
        dir.supervisor()
            .args(["-q", "-p", "2", "-c", "8", "--retries", "0", "--timeout", "1s", "-o"])
            .arg(&journal)
            .arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let page = dir.join("report.html");
    let out = run(dir.supervisor().arg("report").arg(&journal).arg("-o").arg(&page), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("204 records (204 drawn)"), "{}", stderr(&out));

    let shot = dir.join("report.png");
    render(&dir, &page, &[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("the browser wrote its screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());

    let dom = String::from_utf8(render(&dir, &page, &["--dump-dom"]).stdout).unwrap();
    let count = |what: &str| dom.matches(what).count();
    let lanes: Vec<&str> = dom.match_indices("<g class=\"lane\"").map(|(i, _)| &dom[i..i + 60]).collect();
    // Two workers at a time, and the one killed for the timeout and the one
    // killed by the crash each replaced in a lane: at most two lanes (one
    // when the load had them take turns), for at least two pids.
    let pids: std::collections::HashSet<u64> =
        crate::util::journal(&journal).iter().filter_map(|r| r["worker"].as_u64()).collect();
    assert!(pids.len() >= 2, "the crash killed a worker: {pids:?}");
    assert!((1..=2).contains(&lanes.len()), "{} pids in {lanes:?}", pids.len());
    assert_eq!(count("class=\"b ok\""), 201);
    for status in ["error", "crashed", "timeout"] {
        assert_eq!(count(&format!("class=\"b {status}\"")), 1, "one {status} bar");
        assert_eq!(count(&format!("class=\"failure-group\" data-status=\"{status}\"")), 1, "{status} group");
    }
    let failures = &dom[dom.find("<div id=\"failures\"").expect("the failures")..];
    assert!(failures.contains("SIGSEGV") && failures.contains("timed out"), "{failures}");
    assert!(failures.contains("journal.jsonl:201") && failures.contains("journal.jsonl:202"), "{failures}");
    assert!(dom.contains("<svg id=\"throughput\"") && dom.contains("<svg id=\"busy\""));
}

/// A run directory's report has a group of lanes per shard, one not run yet
/// included; a journal of records without `start` is counted, not drawn.
#[test]
fn a_run_directory_reports_each_shard_as_a_group_and_old_records_are_counted() {
    let dir = Dir::new();
    dir.write("jobs.txt", &(1..=60).map(|i| format!("cube {i}\n")).collect::<String>());
    for i in 0..2 {
        let mut cmd = dir.supervisor();
        cmd.env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_CPUS_PER_TASK")
            .env_remove("JOB_COMPLETION_INDEX");
        let out = run(
            cmd.args(["-q", "-p", "2", "--run-dir", "run", "--shard", &format!("{i}/3"), "jobs.txt"]),
            None,
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let page = dir.join("run.html");
    let out = run(dir.supervisor().args(["report", "run", "-o"]).arg(&page), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    let drawn: usize = html.matches("class=\"b ok\"").count();
    let groups: Vec<&str> =
        html.match_indices("class=\"group-label\"").map(|(i, _)| &html[i..i + 60]).collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
    for shard in ["shard 0/3", "shard 1/3", "shard 2/3"] {
        assert!(html.contains(shard), "{shard}");
    }
    assert!(drawn > 20 && drawn < 60, "two shards of three: {drawn} bars");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing is fetched");

    // A journal of records written before `start` existed.
    let old = dir.write(
        "old.jsonl",
        "{\"line\":1,\"task\":\"cube\",\"args\":[\"1\"],\"status\":\"ok\",\"value\":1,\"attempts\":1,\"worker\":9,\"ms\":0.1}\n",
    );
    let out = run(dir.supervisor().arg("report").arg(&old).arg("-o").arg(&page), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("1 records carry no \"start\""), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&page).unwrap().matches("class=\"b ").count(), 0);

    // What is not a journal or a run directory is refused, exit 2.
    let out = run(dir.supervisor().args(["report", "nowhere.jsonl", "-o"]).arg(&page), None);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot open"), "{}", stderr(&out));
}
