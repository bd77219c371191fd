//! Regressions found by a review of the engine: inputs and timings that
//! once lost jobs, wrote forever, overwrote outputs or hung the dispatcher.

use crate::util::*;
use std::time::Duration;

/// A jobs file that is a pipe is read once: counting its lines for the
/// progress bar used to steal them from the run.
#[test]
fn a_fifo_jobs_file_loses_no_job() {
    let dir = Dir::new();
    let fifo = dir.join("jobs.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let text: String = (1..=20_000).map(|i| format!("{i}\n")).collect();
        std::fs::write(writer_path, text).unwrap();
    });
    let out = run(dir.supervisor().args(["--task", "cube", "-q"]).arg(&fifo), None);
    writer.join().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_records(&out).len(), 20_000);
}

#[test]
fn a_directory_as_jobs_file_is_refused() {
    let dir = Dir::new();
    std::fs::create_dir(dir.join("batch")).unwrap();
    let out = run(dir.supervisor().arg("batch"), None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

/// Records that arrive every few tens of milliseconds are still flushed
/// within the flush interval. Counted, not timed: the journal is watched
/// until it first holds records, and then it must hold a few, as written
/// within 100 ms of 40 ms jobs. Without the flush on every record, nothing
/// shows until the 64 KiB buffer fills, some 500 records at once (issue 19:
/// waiting for any 5 records passed either way).
#[test]
fn a_steady_trickle_of_results_is_flushed() {
    let dir = Dir::new();
    let text: String = (1..=800).map(|i| format!("cube {i} 40\n")).collect();
    let (mut child, journal_path) = dir.spawn_run(&["-p", "1", "-c", "1", "-q"], &text);
    let mut first = Vec::new();
    wait_until("the first records in the journal", Duration::from_secs(60), || {
        first = journal_so_far(&journal_path);
        !first.is_empty()
    });
    assert!(first.len() < 100, "{} records showed at once: written in a burst, not flushed", first.len());
    assert!(child.try_wait().unwrap().is_none(), "the run is still going");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A resumed run keeps the outputs of the jobs it skips claimed.
#[test]
fn resuming_does_not_let_a_job_overwrite_a_done_job_s_output() {
    let dir = Dir::new();
    let tile = dir.join("t.tif");
    procmap_images::synth::write_tile(&tile, 3, &Default::default()).unwrap();
    let other = dir.join("u.tif");
    procmap_images::synth::write_tile(&other, 4, &Default::default()).unwrap();
    let jobs = dir.write(
        "jobs.txt",
        &format!("eurosat-rgb {} x.png\neurosat-rgb {} x.png\n", tile.display(), other.display()),
    );
    let journal_path = dir.join("j.jsonl");
    let first = run(dir.supervisor().args(["-q", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&first), 1, "the second job is refused: {}", stderr(&first));
    let written = std::fs::read(dir.join("out/x.png")).unwrap();
    let again =
        run(dir.supervisor().args(["-q", "--resume-failed", "-o"]).arg(&journal_path).arg(&jobs), None);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    let last = journal(&journal_path).pop().unwrap();
    assert_eq!(last["line"], 2);
    assert!(last["error"].as_str().unwrap().contains("is also the output of line 1"), "{last}");
    assert_eq!(std::fs::read(dir.join("out/x.png")).unwrap(), written, "line 1's output is intact");
}

/// Jobs with long arguments queued behind a hung job used to fill the
/// worker's socket and block the dispatcher, so the timeout never fired.
#[test]
fn a_hung_worker_with_big_jobs_queued_still_times_out() {
    let dir = Dir::new();
    let arg = "x".repeat(10_000);
    let mut text = String::new();
    for _ in 0..100 {
        text.push_str(&format!("noop {arg}\n"));
    }
    text.push_str("fault hang\n");
    for _ in 0..100 {
        text.push_str(&format!("noop {arg}\n"));
    }
    text.push_str(&format!("noop {}\n", "y".repeat(300_000)));
    let jobs = dir.write("jobs.txt", &text);
    let out = run(dir.supervisor().args(["-p", "1", "-c", "1", "-q", "--timeout", "1s"]).arg(&jobs), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), 202);
    assert_eq!(records.iter().filter(|r| r["status"] == "timeout").count(), 1);
    assert_eq!(records.iter().filter(|r| r["status"] == "ok").count(), 201);
}

#[test]
fn an_oversized_line_is_that_job_s_error() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", &format!("noop {}\ncube 2\n", "z".repeat(2 << 20)));
    let out = run(dir.supervisor().args(["-q", "--timeout", "5s"]).arg(&jobs), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = normalized(stdout_records(&out));
    // Issue 8: the line is never held whole; its error quotes a bounded excerpt.
    let error = records[0]["error"].as_str().unwrap();
    assert!(error.starts_with("line 1 is longer than 1 MiB; it starts with \"noop zzz"), "{error}");
    assert!(error.len() < 200, "{error}");
    assert_eq!(records[0]["task"], "noop");
    assert_eq!(records[1]["value"], 8);
}

#[test]
fn absurd_durations_are_usage_errors() {
    let dir = Dir::new();
    // A unit is needed since durations are humantime's; the number is what
    // is absurd.
    let out = run(dir.supervisor().args(["--timeout", "100000000000000000000s", "x"]), None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("longer than a year"), "{}", stderr(&out));
}

/// Input is read on a thread of its own: a producer that pauses must not
/// hold back the results of jobs it already sent.
#[test]
fn a_pausing_producer_does_not_hold_back_results() {
    use std::io::Write;
    let dir = Dir::new();
    let journal_path = dir.join("j.jsonl");
    let mut child = dir.spawn_on_stdin(&["-q", "-p", "1"], &journal_path);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"cube 2\n").unwrap();
    stdin.flush().unwrap();
    wait_until("line 1's record while the producer pauses", Duration::from_secs(50), || {
        !journal_so_far(&journal_path).is_empty()
    });
    stdin.write_all(b"cube 3\n").unwrap();
    drop(stdin);
    let status = wait_status(&mut child, Duration::from_secs(30), "supervisor after its input ended");
    assert_eq!(status.code(), Some(0));
    assert_eq!(journal(&journal_path).len(), 2);
}

/// A journal that is not a regular file is written, not locked or truncated.
#[test]
fn the_journal_may_be_dev_null() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["-q", "-o", "/dev/null", "-"]), Some("cube 2\n"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
