use crate::util::*;
use serde_json::{Value, json};

/// 10,000 lines mixing good cube and noop jobs with every kind of bad line.
fn mixed_jobs(n: u64) -> String {
    let mut rng = XorShift(0x9e3779b97f4a7c15);
    let mut text = String::from("# mixed jobs\n");
    for i in 1..n {
        let line = match rng.below(20) {
            0 => "cube notanumber".to_owned(),
            1 => "bogus 1".to_owned(),
            2 => "cube 'unbalanced".to_owned(),
            3 => "cube 1 2 3".to_owned(),
            4 => "cube 3000000".to_owned(), // overflows i64
            5 => String::new(),
            6..=8 => "noop".to_owned(),
            _ => format!("cube {}", rng.below(2_000_000) as i64 - 1_000_000 + i as i64),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn every_mode_gives_the_same_records_for_10000_mixed_lines() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", &mixed_jobs(10_000));
    let mut results = Vec::new();
    for mode in ["process", "thread", "serial"] {
        let out = run(dir.supervisor().args(["--mode", mode, "-p", "2", "-c", "16", "-q"]).arg(&jobs), None);
        assert_eq!(code(&out), 1, "{mode}: some lines are bad, so exit 1; stderr: {}", stderr(&out));
        let records = stdout_records(&out);
        results.push((mode, normalized(records)));
    }
    let (_, reference) = &results[0];
    let non_blank = std::fs::read_to_string(&jobs)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(reference.len(), non_blank, "one record per job");
    for (mode, records) in &results[1..] {
        assert_eq!(records.len(), reference.len(), "{mode}: record count");
        for (a, b) in reference.iter().zip(records) {
            assert_eq!(a, b, "{mode} differs from process mode");
        }
    }
    // Spot-check the content, not only the agreement.
    let ok = reference.iter().filter(|r| r["status"] == "ok").count();
    assert!(ok > 6500, "about 14 in 19 lines are good: {ok}");
    for r in reference {
        if r["status"] == "ok" && r["task"] == "cube" {
            let x: i64 = r["args"][0].as_str().unwrap().parse().unwrap();
            assert_eq!(r["value"], json!(x * x * x));
            assert_eq!(r["attempts"], 1);
        }
    }
}

#[test]
fn process_mode_reports_each_worker_pid() {
    let dir = Dir::new();
    let jobs: String = (1..=2000).map(|i| format!("cube {i}\n")).collect();
    let out = run(dir.supervisor().args(["-p", "2", "-c", "8", "-"]), Some(&jobs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), 2000);
    let mut pids: Vec<u64> = records.iter().map(|r| r["worker"].as_u64().unwrap()).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 2, "two persistent workers share the jobs: {pids:?}");
    assert!(!pids.contains(&(std::process::id() as u64)));
    let summary = stderr(&out);
    assert!(summary.contains("2000 jobs"), "{summary}");
    assert!(summary.contains("ok 2000"), "{summary}");
}

#[test]
fn stdin_and_task_flag() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["--task", "cube", "-q", "-"]), Some("2\n3 1\n\n4\n"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = normalized(stdout_records(&out));
    let values: Vec<(u64, Value)> =
        records.iter().map(|r| (r["line"].as_u64().unwrap(), r["value"].clone())).collect();
    assert_eq!(values, vec![(1, json!(8)), (2, json!(27)), (4, json!(64))]);
    assert_eq!(records[1]["args"], json!(["3", "1"]));
}

#[test]
fn bad_lines_become_error_records_and_exit_1() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 2\ncube 'oops\nnosuchtask 1\ncube x\ncube\ncube 3\n");
    let out = run(dir.supervisor().arg("-q").arg(&jobs), None);
    assert_eq!(code(&out), 1);
    let records = normalized(stdout_records(&out));
    let by_line =
        |n: u64| records.iter().find(|r| r["line"] == n).unwrap_or_else(|| panic!("no record for line {n}"));
    assert_eq!(by_line(1)["status"], "ok");
    assert_eq!(by_line(6)["value"], 27);
    let error = |n: u64| {
        let r = by_line(n);
        assert_eq!(r["status"], "error", "{r}");
        assert!(r.get("value").is_none());
        r["error"].as_str().unwrap().to_owned()
    };
    assert!(error(2).contains("unbalanced quote"), "{}", error(2));
    assert!(error(3).contains("unknown task \"nosuchtask\""), "{}", error(3));
    assert!(error(4).contains("X must be an integer, got \"x\""), "{}", error(4));
    assert!(error(5).contains("cube takes `X [SLEEP_MS]`, got 0 arguments"), "{}", error(5));
}

#[test]
fn a_missing_jobs_file_exits_2_with_one_line() {
    let dir = Dir::new();
    let out = run(dir.supervisor().arg("no-such-file.txt"), None);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot read jobs file no-such-file.txt"), "{err}");
}

#[test]
fn a_missing_worker_exits_2_and_says_how_to_build_it() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 1\n");
    let out = run(dir.supervisor().args(["--worker", "/nonexistent/supervisor-worker"]).arg(&jobs), None);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("worker program /nonexistent/supervisor-worker not found"), "{err}");
    assert!(err.contains("cargo build"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    for args in [&["--procs", "0", "x"][..], &["--mode", "fibers", "x"], &["--chunksize", "0", "x"], &[]] {
        let out = run(dir.supervisor().args(args), None);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_custom_worker_runs_its_own_task() {
    let dir = Dir::new();
    let worker = custom_worker();
    assert!(worker.is_file(), "{} is built by cargo test", worker.display());
    let out = run(
        dir.supervisor().arg("--worker").arg(&worker).args(["-q", "-"]),
        Some("shout hello world\ncube 3\n"),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = normalized(stdout_records(&out));
    assert_eq!(records[0]["value"], json!({"text": "HELLO WORLD", "words": 2}));
    assert_eq!(records[1]["value"], json!(27));
    // The stock worker does not know the task, and says so.
    let out = run(dir.supervisor().args(["-q", "-"]), Some("shout hello\n"));
    assert_eq!(code(&out), 1);
    assert!(stdout_records(&out)[0]["error"].as_str().unwrap().contains("unknown task \"shout\""));
}

#[test]
fn tasks_lists_every_builtin_task() {
    let dir = Dir::new();
    let out = run(dir.supervisor().arg("tasks"), None);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    for form in ["cube X [SLEEP_MS]", "noop", "fault panic|abort|segfault"] {
        assert!(text.contains(form), "{form} missing from:\n{text}");
    }
}

#[test]
fn an_existing_journal_is_not_overwritten_by_accident() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 2\n");
    let journal = dir.join("results.jsonl");
    let first = run(dir.supervisor().args(["-q", "-o"]).arg(&journal).arg(&jobs), None);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let again = run(dir.supervisor().args(["-q", "-o"]).arg(&journal).arg(&jobs), None);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));
    let forced = run(dir.supervisor().args(["-q", "--overwrite", "-o"]).arg(&journal).arg(&jobs), None);
    assert_eq!(code(&forced), 0);
    assert_eq!(journal_records(&journal).len(), 1);
}

fn journal_records(path: &std::path::Path) -> Vec<Value> {
    journal(path)
}

#[test]
fn task_output_on_stdout_never_reaches_the_journal() {
    // Workers' stdout goes to the supervisor's stderr side, never to the
    // journal on stdout: stdout is exactly the records, one per job.
    let dir = Dir::new();
    let jobs = "fault panic\nfault print HELLO\ncube 2\nfault print {\"line\":99}\n";
    let out = run(dir.supervisor().args(["-q", "-p", "2", "-"]), Some(jobs));
    let records = normalized(stdout_records(&out));
    let lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 2, 3, 4], "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(records[1]["value"], "printed");
    // Not one line more than the header and the records: a leaked
    // `{"line":99}` would parse as a record.
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1 + 4);
}

#[test]
fn tasks_lists_a_custom_worker_s_own_tasks() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["tasks", "--worker"]).arg(custom_worker()), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shout TEXT..."), "{text}");
    assert!(text.contains("cube X [SLEEP_MS]"), "{text}");
    let out = run(dir.supervisor().args(["tasks", "--worker", "/bin/false"]), None);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

/// Issue 19 (17): in thread and serial mode tasks run in the supervisor's
/// own process; what they print must not land between the records when the
/// journal is stdout. It goes to stderr instead.
#[test]
fn in_process_task_output_never_reaches_a_journal_on_stdout() {
    let dir = Dir::new();
    let jobs = "fault print HELLO\ncube 2\nfault print {\"line\":99}\n";
    for mode in ["thread", "serial"] {
        let out = run(dir.supervisor().args(["-q", "--mode", mode, "-"]), Some(jobs));
        assert_eq!(code(&out), 0, "{mode}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().count(), 1 + 3, "{mode}: the header and three records only:\n{text}");
        let lines: Vec<u64> =
            normalized(stdout_records(&out)).iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [1, 2, 3], "{mode}");
        assert!(stderr(&out).contains("HELLO"), "{mode}: the task's text is on stderr: {}", stderr(&out));
    }
}
