use crate::util::*;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

fn by_line(records: &[Value]) -> HashMap<u64, Vec<Value>> {
    let mut map: HashMap<u64, Vec<Value>> = HashMap::new();
    for r in records {
        map.entry(r["line"].as_u64().unwrap()).or_default().push(r.clone());
    }
    map
}

/// Every fault kind, each between good jobs in the same chunk: the fault
/// gets its status and fields, every other job is ok exactly once.
#[test]
fn each_fault_kind_costs_only_its_own_job() {
    let dir = Dir::new();
    let faults = [
        "fault panic",
        "fault segfault",
        "fault abort",
        "fault exit 7",
        "fault oom",
        "fault hang",
        "fault slow 10",
    ];
    let mut text = String::new();
    for (i, fault) in faults.iter().enumerate() {
        for j in 0..5 {
            text.push_str(&format!("cube {}\n", i * 10 + j));
        }
        text.push_str(fault);
        text.push('\n');
    }
    let jobs = dir.write("jobs.txt", &text);
    let out = run(
        dir.supervisor()
            // A generous limit: on a loaded machine filling 256M takes seconds.
            .args(["-p", "2", "-c", "64", "-q", "--timeout", "8s", "--mem-limit", "256M"])
            .arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = stdout_records(&out);
    let lines = by_line(&records);
    assert_eq!(lines.len(), text.lines().count(), "one record per job");
    for (line, recs) in &lines {
        assert_eq!(recs.len(), 1, "line {line} has {} records: {recs:?}", recs.len());
    }
    let find = |task_args: &str| {
        records
            .iter()
            .find(|r| {
                let args: Vec<&str> =
                    r["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
                format!("{} {}", r["task"].as_str().unwrap(), args.join(" ")) == task_args
            })
            .unwrap_or_else(|| panic!("no record for {task_args}"))
            .clone()
    };
    let panic = find("fault panic");
    assert_eq!(panic["status"], "error");
    assert!(panic["error"].as_str().unwrap().contains("fault injected: panic"));

    let segv = find("fault segfault");
    assert_eq!(segv["status"], "crashed", "{segv}");
    assert_eq!(segv["signal"], "SIGSEGV");
    assert_eq!(segv["attempts"], 3, "default --retries 2: three runs");

    let abort = find("fault abort");
    assert_eq!(abort["status"], "crashed");
    assert_eq!(abort["signal"], "SIGABRT");

    let exit = find("fault exit 7");
    assert_eq!(exit["status"], "crashed");
    assert_eq!(exit["exit_code"], 7);
    assert!(exit.get("signal").is_none());

    let oom = find("fault oom");
    assert_eq!(oom["status"], "crashed");
    assert!(oom["error"].as_str().unwrap().contains("out of memory"), "{oom}");
    assert!(oom["stderr"].as_str().unwrap().contains("memory allocation"), "{oom}");

    let hang = find("fault hang");
    assert_eq!(hang["status"], "timeout");
    assert!(hang["error"].as_str().unwrap().contains("timed out"), "{hang}");

    assert_eq!(find("fault slow 10")["status"], "ok");
    for r in &records {
        if r["task"] == "cube" {
            assert_eq!(r["status"], "ok", "{r}");
            assert_eq!(r["attempts"], 1, "an innocent job ran once: {r}");
        }
    }
}

/// Without start reports (no --timeout), a crash in a big chunk leaves many
/// suspects; rerunning them alone pins the culprit and clears the rest.
#[test]
fn suspects_are_rerun_alone_and_only_the_culprit_is_blamed() {
    let dir = Dir::new();
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!("cube {i}\n"));
        if i == 50 {
            text.push_str("fault segfault\n");
        }
    }
    let jobs = dir.write("jobs.txt", &text);
    let out = run(dir.supervisor().args(["-p", "2", "-c", "100", "-q", "--retries", "1"]).arg(&jobs), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), 201);
    let lines = by_line(&records);
    assert!(lines.values().all(|r| r.len() == 1));
    let crashed: Vec<&Value> = records.iter().filter(|r| r["status"] != "ok").collect();
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert_eq!(crashed[0]["task"], "fault");
    assert_eq!(crashed[0]["signal"], "SIGSEGV");
}

#[test]
fn thread_mode_catches_panics() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["--mode", "thread", "-q", "-"]), Some("fault panic\ncube 2\n"));
    assert_eq!(code(&out), 1);
    let records = normalized(stdout_records(&out));
    assert_eq!(records[0]["status"], "error");
    assert_eq!(records[1]["value"], 8);
}

/// A random worker is SIGKILLed every 50 ms while a few thousand jobs run;
/// afterwards the journal has exactly one ok record per job.
#[test]
fn chaos_sigkill_a_random_worker_every_50ms() {
    chaos(3000, "16");
}

/// The same with one job per chunk, where workers coalesce results.
#[test]
fn chaos_with_tiny_chunks() {
    chaos(1000, "1");
}

fn chaos(n: usize, chunksize: &str) {
    use std::io::Write;
    let dir = Dir::new();
    let journal_path = dir.join("journal.jsonl");
    // Jobs arrive on stdin in batches, and stdin stays open until five
    // kills have landed: the run lasts through them however fast it is.
    let mut child = dir.spawn_on_stdin(&["-p", "4", "-c", chunksize, "-q", "--retries", "50"], &journal_path);
    let mut stdin = Some(child.stdin.take().unwrap());
    let supervisor = child.id();
    let mut rng = XorShift(42);
    let mut kills = 0;
    let mut next = 1;
    let deadline = std::time::Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "chaos run did not finish within {LIMIT:?}");
        if let Some(pipe) = stdin.as_mut() {
            let end = (next + n / 20).min(n + 1);
            let batch: String = (next..end).map(|i| format!("cube {i} 1\n")).collect();
            pipe.write_all(batch.as_bytes()).unwrap();
            next = end;
            if next > n && kills >= 5 {
                stdin = None;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let workers = children(supervisor);
        if !workers.is_empty() {
            let victim = workers[rng.below(workers.len() as u64) as usize];
            if unsafe { libc::kill(victim as i32, libc::SIGKILL) } == 0 {
                kills += 1;
            }
        }
    }
    let output = wait_output(child, Duration::from_secs(50));
    assert_eq!(code(&output), 0, "stderr: {}", stderr(&output));
    assert!(kills >= 5, "the run lasted through several kills, got {kills}");
    let records = journal(&journal_path);
    let lines = by_line(&records);
    assert_eq!(lines.len(), n, "every job has a record");
    for (line, recs) in &lines {
        assert_eq!(recs.len(), 1, "line {line}: {recs:?}");
        assert_eq!(recs[0]["status"], "ok", "line {line}: {recs:?}");
        assert_eq!(recs[0]["value"], (*line as i64).pow(3));
    }
}

/// SIGKILL of the supervisor leaves no worker behind.
#[test]
fn killing_the_supervisor_kills_its_workers() {
    let dir = Dir::new();
    let text: String = (1..=1000).map(|i| format!("cube {i} 20\n")).collect();
    let (mut child, journal_path) = dir.spawn_run(&["-p", "3", "-q"], &text);
    let supervisor = child.id();
    wait_until("three workers", Duration::from_secs(20), || children(supervisor).len() == 3);
    wait_until("the first results in the journal", Duration::from_secs(20), || {
        !journal_so_far(&journal_path).is_empty()
    });
    let workers = children(supervisor);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("every worker gone after the supervisor's SIGKILL", Duration::from_secs(10), || {
        workers.iter().all(|&pid| !alive(pid))
    });
    // What was flushed is a valid journal; a kill -9 may tear its last line.
    let text = std::fs::read_to_string(&journal_path).unwrap();
    let complete = text.lines().count() - usize::from(!text.ends_with('\n'));
    assert_eq!(records_allowing_torn_tail(&text).len() + 1, complete, "the header and records");
}

/// SIGINT mid-run: exit 130 with a valid journal; --resume finishes the
/// rest; one ok per job overall and nothing ran twice once recorded.
#[test]
fn interrupt_then_resume_runs_every_job_exactly_once() {
    let dir = Dir::new();
    let n = 400;
    let text: String = (1..=n).map(|i| format!("cube {i} 10\n")).collect();
    let (child, journal_path) = dir.spawn_run(&["-p", "2", "-c", "4"], &text);
    wait_until("the first results in the journal", Duration::from_secs(30), || {
        journal_so_far(&journal_path).len() >= 10
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = wait_output(child, Duration::from_secs(30));
    assert_eq!(code(&output), 130, "{}", stderr(&output));
    assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
    let first = journal(&journal_path);
    assert!(first.len() < n, "interrupted before the end: {}", first.len());
    assert!(first.iter().all(|r| r["status"] == "ok"), "jobs in flight finished cleanly");

    let resumed = run(
        dir.supervisor()
            .args(["-p", "2", "-c", "4", "--resume", "-o"])
            .arg(&journal_path)
            .arg(dir.join("jobs.txt")),
        None,
    );
    assert_eq!(code(&resumed), 0, "{}", stderr(&resumed));
    assert!(stderr(&resumed).contains(&format!("skipped {}", first.len())), "{}", stderr(&resumed));
    let all = journal(&journal_path);
    let lines = by_line(&all);
    assert_eq!(lines.len(), n);
    for (line, recs) in &lines {
        assert_eq!(recs.len(), 1, "line {line} ran twice: {recs:?}");
        assert_eq!(recs[0]["status"], "ok");
    }
}

#[test]
fn resume_failed_reruns_only_failures_and_edited_lines_rerun() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 2\ncube x\ncube 3\n");
    let journal_path = dir.join("j.jsonl");
    let first = run(dir.supervisor().args(["-q", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&first), 1);
    // Nothing left to do for --resume: every job has a record, and line 2's
    // is still an error, so the batch is not all ok (issue 19).
    let again = run(dir.supervisor().args(["--resume", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert_eq!(journal(&journal_path).len(), 3);
    // Fix line 2 and edit line 3: both run again, line 1 does not.
    std::fs::write(&jobs, "cube 2\ncube 5\ncube 4\n").unwrap();
    let fixed =
        run(dir.supervisor().args(["-q", "--resume-failed", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&fixed), 0, "{}", stderr(&fixed));
    let all = journal(&journal_path);
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[3..].iter().map(|r| r["line"].as_u64().unwrap()).collect::<std::collections::BTreeSet<_>>(),
        [2, 3].into()
    );
}

#[test]
fn a_worker_that_cannot_start_ends_the_run_with_its_reason() {
    let dir = Dir::new();
    let script = dir.write("broken-worker", "#!/bin/sh\necho 'cannot load libfoo.so' >&2\nexit 3\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let jobs = dir.write("jobs.txt", "cube 1\ncube 2\n");
    let out = run(dir.supervisor().arg("--worker").arg(&script).arg(&jobs), None);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("workers keep failing to start"), "{err}");
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(err.contains("cannot load libfoo.so"), "{err}");
}

#[test]
fn workers_are_recycled_after_max_tasks_per_child() {
    let dir = Dir::new();
    let text: String = (1..=100).map(|i| format!("cube {i}\n")).collect();
    let out =
        run(dir.supervisor().args(["-p", "2", "-c", "4", "--max-tasks-per-child", "10", "-"]), Some(&text));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), 100);
    let mut per_worker: HashMap<u64, usize> = HashMap::new();
    for r in &records {
        *per_worker.entry(r["worker"].as_u64().unwrap()).or_default() += 1;
    }
    assert!(per_worker.len() >= 10, "{per_worker:?}");
    assert!(per_worker.values().all(|&n| n <= 10), "{per_worker:?}");
}

/// A result is durable soon after it arrives even when the next one takes
/// long: the journal is flushed while the supervisor waits.
#[test]
fn the_journal_is_flushed_while_a_slow_job_runs() {
    let dir = Dir::new();
    let (mut child, journal_path) = dir.spawn_run(&["-p", "1", "-q"], "cube 2\ncube 3 60000\n");
    wait_until("line 1 in the journal while line 2 sleeps", Duration::from_secs(30), || {
        journal_so_far(&journal_path).iter().any(|r| r["line"] == 1)
    });
    assert!(child.try_wait().unwrap().is_none(), "the slow job is still running");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Hybrid mode: threads in each worker overlap sleeping jobs, and a crash
/// still costs only its own job.
#[test]
fn hybrid_mode_runs_threads_in_each_worker_and_isolates_crashes() {
    let dir = Dir::new();
    let mut text: String = (1..=200).map(|i| format!("cube {i} 5\n")).collect();
    text.push_str("fault segfault\n");
    text.push_str(&(201..=300).map(|i| format!("cube {i} 5\n")).collect::<String>());
    let jobs = dir.write("jobs.txt", &text);
    for timeout in [None, Some("10s")] {
        let mut cmd = dir.supervisor();
        cmd.args(["-p", "2", "--threads", "4", "-c", "16", "-q"]);
        if let Some(t) = timeout {
            cmd.args(["--timeout", t]);
        }
        let out = run(cmd.arg(&jobs), None);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let records = stdout_records(&out);
        let lines = by_line(&records);
        assert_eq!(lines.len(), 301, "timeout {timeout:?}");
        assert!(lines.values().all(|r| r.len() == 1), "one record per job");
        let bad: Vec<&Value> = records.iter().filter(|r| r["status"] != "ok").collect();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0]["signal"], "SIGSEGV");
    }
}

/// With chunks smaller than `COALESCE_BELOW` a worker may hold results of
/// finished chunks while it runs the next; a crash must still blame only the
/// job at fault and leave one record per job.
#[test]
fn crashes_among_tiny_chunks_blame_only_the_culprit() {
    let dir = Dir::new();
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("cube {i}\n"));
        if i == 100 {
            text.push_str("fault segfault\n");
        }
        if i == 200 {
            text.push_str("fault exit 3\n");
        }
    }
    let jobs = dir.write("jobs.txt", &text);
    for chunksize in ["1", "3"] {
        let out =
            run(dir.supervisor().args(["-p", "2", "-c", chunksize, "-q", "--retries", "1"]).arg(&jobs), None);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let records = stdout_records(&out);
        let lines = by_line(&records);
        assert_eq!(lines.len(), 302, "chunksize {chunksize}");
        assert!(lines.values().all(|r| r.len() == 1), "chunksize {chunksize}: one record per job");
        let bad: Vec<&Value> = records.iter().filter(|r| r["status"] != "ok").collect();
        assert_eq!(bad.len(), 2, "chunksize {chunksize}: {bad:?}");
        assert!(bad.iter().all(|r| r["task"] == "fault" && r["status"] == "crashed"), "{bad:?}");
    }
}

/// Issue 21: `--halt soon,fail=3` stops dispatching at the third job not
/// ok; the journal holds every record that arrived, the exit code says
/// halted, and `--resume` finishes the batch with one record per job.
#[test]
fn halt_soon_stops_after_the_third_failure_and_a_resume_finishes_the_batch() {
    let dir = Dir::new();
    let lines: Vec<String> =
        (0..600).map(|i| if i % 2 == 0 { "fault panic".to_owned() } else { format!("cube {i}") }).collect();
    let jobs = dir.write("jobs.txt", &(lines.join("\n") + "\n"));
    let journal_path = dir.path().join("j.jsonl");
    let out = run(
        dir.supervisor()
            .args(["-q", "-p", "2", "-c", "1", "--halt", "soon,fail=3", "-o"])
            .arg(&journal_path)
            .arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("halted by --halt soon,fail=3"), "{}", stderr(&out));
    let first = journal(&journal_path);
    let failed = first.iter().filter(|r| r["status"] != "ok").count();
    // The third failure, plus what was in flight: jobs already queued to a
    // worker (a deep queue, for jobs this short) still run.
    assert!(failed >= 3, "{failed} failures recorded");
    assert!(first.len() < 300, "stopped dispatching: {} records of 600", first.len());
    let out =
        run(dir.supervisor().args(["-q", "-p", "2", "--resume", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let all = journal(&journal_path);
    let lines = by_line(&all);
    assert_eq!(lines.len(), 600, "every job recorded");
    assert!(lines.values().all(|r| r.len() == 1), "nothing ran twice");
}

/// `--halt now,...` kills the jobs in flight: they are not recorded, and
/// nothing is recorded after the one that fired it.
#[test]
fn halt_now_kills_the_jobs_in_flight() {
    let dir = Dir::new();
    // The slow jobs would outlast the helper's bounded wait (LIMIT): the
    // run ends in time only if they are killed.
    let jobs = dir.write("jobs.txt", "fault slow 300\nfault panic\nfault slow 3600000\nfault slow 3600000\n");
    let out =
        run(dir.supervisor().args(["-q", "-p", "2", "-c", "1", "--halt", "now,fail=1"]).arg(&jobs), None);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert!(records.iter().any(|r| r["status"] == "error"), "{records:?}");
    assert!(records.iter().all(|r| r["args"][1] != "3600000"), "a killed job has no record: {records:?}");
}
