//! A closed stderr or stdout never panics the supervisor (exit 101): a
//! message that cannot be written is dropped, a report cut short by
//! `| head` is not a failure, and only data whose loss matters (the
//! journal, `merge -o -`) fails, with exit code 3.

use crate::util::*;
use std::process::{Command, Output, Stdio};

/// A pipe whose reader is already gone: what is written to it fails with
/// EPIPE, as after `2>&1 | head` in a wrapper script whose reader exited.
fn broken_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

/// Runs `cmd` within [`LIMIT`] with stderr a broken pipe; stdout captured.
fn with_broken_stderr(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(broken_pipe());
    wait_output(cmd.spawn().expect("spawn supervisor"), LIMIT)
}

/// Runs `cmd` within [`LIMIT`] with stdout a broken pipe; stderr captured.
fn with_broken_stdout(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(broken_pipe()).stderr(Stdio::piped());
    wait_output(cmd.spawn().expect("spawn supervisor"), LIMIT)
}

/// A batch with a failing job, so that the summary and the exit code have
/// something to say.
fn batch(dir: &Dir) {
    let jobs: String = (1..=40).map(|i| format!("cube {i}\n")).collect();
    dir.write("jobs.txt", &(jobs + "cube notanumber\n"));
}

fn sup(dir: &Dir) -> Command {
    let mut cmd = dir.supervisor();
    for var in
        ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"]
    {
        cmd.env_remove(var);
    }
    cmd
}

/// A shard run announces its shard, shows progress and a summary on
/// stderr; none of that may cost the journal.
#[test]
fn a_shard_run_with_a_closed_stderr_writes_the_same_journal() {
    let dir = Dir::new();
    batch(&dir);
    let args = ["--shard", "0/2", "-p", "2", "--progress", "always"];
    let open = run(sup(&dir).args(args).args(["-o", "open.jsonl", "jobs.txt"]), None);
    assert!(
        stderr(&open).contains("supervisor: shard 0 of 2"),
        "the run has something to say: {}",
        stderr(&open)
    );
    let closed = with_broken_stderr(sup(&dir).args(args).args(["-o", "closed.jsonl", "jobs.txt"]));
    assert_eq!(code(&closed), code(&open), "same exit code with stderr closed");
    let (open, closed) = (journal(&dir.join("open.jsonl")), journal(&dir.join("closed.jsonl")));
    assert!(!open.is_empty());
    assert_eq!(normalized(closed), normalized(open), "same journal with stderr closed");
}

/// `merge` says what it merged on stderr, after the merge.
#[test]
fn merge_with_a_closed_stderr_writes_the_same_merge() {
    let dir = Dir::new();
    batch(&dir);
    for i in 0..2 {
        let out =
            run(sup(&dir).args(["-q", "--run-dir", "run", "--shard", &format!("{i}/2"), "jobs.txt"]), None);
        assert!(code(&out) <= 1, "shard {i}: {}", stderr(&out));
    }
    let open = run(sup(&dir).args(["merge", "run", "-o", "open.jsonl"]), None);
    assert!(stderr(&open).contains("supervisor merge: 41 records"), "{}", stderr(&open));
    let closed = with_broken_stderr(sup(&dir).args(["merge", "run", "-o", "closed.jsonl"]));
    assert_eq!(code(&closed), code(&open), "same exit code with stderr closed");
    let read = |name: &str| records_of(&std::fs::read(dir.join(name)).expect("merged journal")).to_vec();
    assert_eq!(read("closed.jsonl"), read("open.jsonl"), "same merge with stderr closed");
}

/// `status`, `tasks` and `slurm submit --dry-run` print for people: a
/// reader that went away (`| head -1`) ends nothing, and the exit code is
/// the command's own.
#[test]
fn reports_to_a_closed_stdout_keep_their_exit_code() {
    let dir = Dir::new();
    batch(&dir);
    let out = run(sup(&dir).args(["-q", "-o", "j.jsonl", "jobs.txt"]), None);
    assert_eq!(code(&out), 1, "one job fails: {}", stderr(&out));
    let reports: [&[&str]; 4] = [
        &["status", "--jobs", "jobs.txt", "j.jsonl"],
        &["status", "--json", "--jobs", "jobs.txt", "j.jsonl"],
        &["tasks"],
        &["slurm", "submit", "jobs.txt", "--shards", "2", "--dry-run", "--run-dir"],
    ];
    for args in reports {
        // A dry run still makes its run directory: each run gets its own.
        let dir_arg = |name: &str| args.ends_with(&["--run-dir"]).then(|| name.to_owned());
        let open = run(sup(&dir).args(args).args(dir_arg("open")), None);
        assert!(!open.stdout.is_empty(), "{args:?} prints something: {}", stderr(&open));
        let closed = with_broken_stdout(sup(&dir).args(args).args(dir_arg("closed")));
        assert_eq!(code(&closed), code(&open), "{args:?} with stdout closed: {}", stderr(&closed));
    }
}

/// `merge -o -` writes data: if stdout cannot take it, that is exit 3 and
/// says so, not success and not a panic.
#[test]
fn merge_to_a_closed_stdout_is_exit_3() {
    let dir = Dir::new();
    batch(&dir);
    let out = run(sup(&dir).args(["-q", "-o", "j.jsonl", "jobs.txt"]), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let file = run(sup(&dir).args(["merge", "--jobs", "jobs.txt", "-o", "all.jsonl", "j.jsonl"]), None);
    assert_eq!(code(&file), 0, "{}", stderr(&file));
    let piped = run(sup(&dir).args(["merge", "--jobs", "jobs.txt", "-o", "-", "j.jsonl"]), None);
    assert_eq!(code(&piped), 0, "{}", stderr(&piped));
    assert_eq!(
        records_of(&piped.stdout),
        records_of(&std::fs::read(dir.join("all.jsonl")).unwrap()),
        "-o - writes what -o FILE does"
    );

    let closed = with_broken_stdout(sup(&dir).args(["merge", "--jobs", "jobs.txt", "-o", "-", "j.jsonl"]));
    assert_eq!(code(&closed), 3, "{}", stderr(&closed));
    assert!(stderr(&closed).contains("cannot write the merged journal to stdout"), "{}", stderr(&closed));
}

/// A merged journal without its header line, whose start time and pid
/// differ from run to run: the records, byte for byte.
fn records_of(journal: &[u8]) -> &[u8] {
    assert!(journal.starts_with(b"{\"journal\":2,"), "{}", String::from_utf8_lossy(journal));
    let end = journal.iter().position(|&b| b == b'\n').expect("a header line");
    &journal[end + 1..]
}

/// The worker binary reports a failure to start (here: not started by a
/// supervisor) on stderr, best effort: with stderr a broken pipe it still
/// exits with its own code, 3, not a panic's 101.
#[test]
fn a_worker_that_cannot_start_exits_3_even_with_a_broken_stderr() {
    let worker = std::path::Path::new(SUPERVISOR).with_file_name("supervisor-worker");
    let mut cmd = Command::new(worker);
    cmd.env_remove("PROCMAP_IPC_SERVER");
    let out = with_broken_stderr(&mut cmd);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
