//! Issue 21 (3) and issue 19's friction: each job's own output, `--capture`.

use crate::util::*;
use serde_json::Value;

/// The records of `out`'s journal on stdout, by line.
fn by_line(out: &std::process::Output) -> Vec<Value> {
    let mut records = stdout_records(out);
    records.sort_by_key(|r| r["line"].as_u64());
    records
}

#[test]
fn tail_puts_each_job_s_own_output_in_its_record() {
    let dir = Dir::new();
    let jobs = "fault print HELLO\nfault eprint OOPS\ncube 2\nfault cprint C-BUFFERED\n";
    // The built-in worker, and a custom worker binary with its own main.
    let workers = [None, Some(custom_worker())];
    for worker in workers {
        let mut cmd = dir.supervisor();
        cmd.args(["-q", "-p", "1", "-"]);
        if let Some(worker) = &worker {
            cmd.arg("--worker").arg(worker);
        }
        let out = run(&mut cmd, Some(jobs));
        assert_eq!(code(&out), 0, "{worker:?}: {}", stderr(&out));
        let records = by_line(&out);
        assert_eq!(records[0]["stdout"], "HELLOHELLO\n", "{worker:?}: {records:?}");
        assert_eq!(records[0].get("stderr"), None, "an empty stream is left out: {records:?}");
        assert_eq!(records[1]["stderr"], "OOPS\n", "{worker:?}: {records:?}");
        assert_eq!(records[1].get("stdout"), None, "{records:?}");
        assert_eq!((records[2].get("stdout"), records[2].get("stderr")), (None, None), "{records:?}");
        // A C library's printf without a newline, flushed at the job's end.
        assert_eq!(records[3]["stdout"], "C-BUFFERED", "{worker:?}: {records:?}");
        assert!(!stderr(&out).contains("HELLO"), "captured output is not also shown: {}", stderr(&out));
    }
}

#[test]
fn a_megabyte_of_output_keeps_its_last_4_kib_and_no_memory() {
    let dir = Dir::new();
    // One worker runs both: the second prints 200 times as much.
    let jobs = "fault spew 250000\nfault spew 50000000\n";
    let out = run(dir.supervisor().args(["-q", "-p", "1", "-c", "1", "-"]), Some(jobs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = by_line(&out);
    for record in &records {
        for stream in ["stdout", "stderr"] {
            let text = record[stream].as_str().unwrap_or_else(|| panic!("{stream} in {record}"));
            assert_eq!(text.len(), 4096, "{stream}: the last 4 KiB");
            assert!(
                text.ends_with(&format!("xxxx\nend of {stream}\n")),
                "{stream} ends as printed: {text:?}"
            );
        }
    }
    let rss = |r: &Value| r["value"]["peak_rss_kb"].as_u64().expect("peak_rss_kb");
    let (small, big) = (rss(&records[0]), rss(&records[1]));
    assert!(small > 0, "{records:?}");
    assert!(
        big < small + 16 * 1024,
        "50 MB of output grew the worker's peak RSS from {small} KiB to {big} KiB"
    );
}

#[test]
fn files_writes_each_job_s_streams_to_its_own_files() {
    let dir = Dir::new();
    let jobs = "fault print HELLO\nfault eprint OOPS\ncube 2\nfault spew 100000\n";
    let out = run(dir.supervisor().args(["-q", "-p", "1", "--capture", "files=logs/run1", "-"]), Some(jobs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let logs = dir.join("logs/run1");
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).ok();
    assert_eq!(read("1.out").as_deref(), Some("HELLOHELLO\n"));
    assert_eq!(read("2.err").as_deref(), Some("OOPS\n"));
    // All of a big one, not its tail.
    let spewed = read("4.out").expect("4.out");
    assert_eq!(spewed.len(), 100_000 / 64 * 64 + "end of stdout\n".len());
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["1.out", "2.err", "4.err", "4.out"], "an empty stream leaves no file");
    for record in by_line(&out) {
        assert_eq!((record.get("stdout"), record.get("stderr")), (None, None), "{record}");
    }
    // A directory that cannot be made is refused before anything runs.
    dir.write("plain-file", "");
    let out = run(dir.supervisor().args(["-q", "--capture", "files=plain-file/logs", "-"]), Some(jobs));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--capture files=plain-file/logs: cannot create the directory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn capture_is_refused_where_jobs_share_their_streams_and_off_by_default_there() {
    let dir = Dir::new();
    let jobs = "fault print HELLO\ncube 2\n";
    for (args, mode) in [
        (&["--capture", "tail", "--mode", "thread"][..], "thread mode"),
        (&["--capture", "files=logs", "--mode", "serial"][..], "serial mode"),
        (&["--capture", "tail", "--threads", "2"][..], "hybrid mode"),
    ] {
        let out = run(dir.supervisor().arg("-q").args(args).arg("-"), Some(jobs));
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains(mode) && text.contains("share one stdout and stderr"), "{args:?}: {text}");
    }
    // Without --capture the same runs go ahead, capturing nothing.
    for args in [&["--mode", "thread"][..], &["--threads", "2"][..]] {
        let out = run(dir.supervisor().arg("-q").args(args).arg("-"), Some(jobs));
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(by_line(&out).iter().all(|r| r.get("stdout").is_none()), "{args:?}");
    }
}

#[test]
fn a_crash_right_after_printing_keeps_the_text_in_its_stderr_tail() {
    let dir = Dir::new();
    // Many, because without the crash handler the capture thread still
    // wins the race to the text some of the time.
    let jobs: String = (1..=30).map(|i| format!("fault segfault LAST-WORDS-{i}\n")).collect();
    let out = run(dir.supervisor().args(["-q", "-p", "2", "--retries", "0", "-"]), Some(&jobs));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = by_line(&out);
    assert_eq!(records.len(), 30);
    let lost: Vec<&Value> = records
        .iter()
        .filter(|r| {
            let tail = r["stderr"].as_str().unwrap_or_default();
            r["status"] != "crashed" || !tail.contains(&format!("LAST-WORDS-{}", r["line"]))
        })
        .collect();
    assert!(lost.is_empty(), "the text printed just before the crash: {lost:?}");
}

#[test]
fn none_shows_each_worker_line_on_stderr_with_its_pid() {
    let dir = Dir::new();
    let jobs = "fault print HELLO\nfault eprint \"bad\u{1b}[2Jterm\"\n";
    let out = run(dir.supervisor().args(["-q", "-p", "1", "--capture", "none", "-"]), Some(jobs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = by_line(&out);
    let pid = records[0]["worker"].as_u64().unwrap();
    assert_eq!(records[0].get("stdout"), None, "{records:?}");
    let text = stderr(&out);
    assert!(text.contains(&format!("[worker {pid}] HELLOHELLO\n")), "{text}");
    assert!(text.contains("[worker ") && text.contains("] bad\\u{1b}[2Jterm\n"), "escaped: {text}");
}
