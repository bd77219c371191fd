//! Issue 8: workers' lives at the edges: idle workers killed from outside,
//! hundreds of workers, crashes before the handshake, programs found on
//! PATH, and whatever a worker leaves running.

use crate::util::*;
use std::time::Duration;

fn worker_path() -> std::path::PathBuf {
    std::path::Path::new(SUPERVISOR).with_file_name("supervisor-worker")
}

#[test]
fn idle_workers_killed_from_outside_do_not_end_the_run() {
    // The OOM killer picks idle workers too. They had said hello, so their
    // deaths are not failed starts: before issue 8, three such deaths
    // ended the run with "workers keep failing to start".
    use std::io::{BufRead, Write};
    let dir = Dir::new();
    let journal = dir.join("j.jsonl");
    // Debug logs on stderr say when each worker has answered the handshake.
    let mut child = dir.spawn_on_stdin(&["-p", "4", "-vv"], &journal);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("worker ready") {
                let _ = ready_tx.send(());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    for i in 0..4 {
        ready_rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("worker {i} ready"));
    }
    let workers = children(child.id());
    assert_eq!(workers.len(), 4, "{workers:?}");
    for pid in &workers[..3] {
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"fault slow 300\ncube 2\ncube 3\n").unwrap();
    drop(stdin);
    let status = wait_status(&mut child, Duration::from_secs(60), "the run after idle kills");
    let log = log.join().unwrap();
    let tail: Vec<&str> = log.lines().filter(|l| !l.contains("DEBUG")).collect();
    assert_eq!(status.code(), Some(0), "{}", tail.join("\n"));
    let records = crate::util::journal(&journal);
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records.iter().all(|r| r["status"] == "ok"), "{records:?}");
}

fn journal_has(path: &std::path::Path, n: usize) -> bool {
    journal_so_far(path).len() >= n
}

#[test]
fn many_workers_start_paced_and_stop_within_the_grace() {
    let dir = Dir::new();
    let (mut child, journal) =
        dir.spawn_run(&["-p", "150", "--grace", "1s", "-c", "1"], &"cube 2 20\n".repeat(100_000));
    wait_until("the first records", Duration::from_secs(60), || journal_has(&journal, 10));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // Bounded, not timed: the bug stopped one worker at a time, for two
    // minutes; any stop within the bound passes, however loaded the machine.
    let status = wait_status(&mut child, Duration::from_secs(60), "supervisor -p 150 to stop after SIGINT");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(!err.contains("failing to start"), "{err}");
}

#[test]
fn too_many_workers_for_the_fd_limit_is_said_before_spawning() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 2\n");
    let out = dir.shell(&format!("ulimit -n 256; exec \"{SUPERVISOR}\" -p 1000 \"{}\"", jobs.display()));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1000 worker processes need about") && err.contains("ulimit -n"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_worker_that_crashes_at_start_is_not_called_killed_by_procmap() {
    let dir = Dir::new();
    let script = dir.write("crashing-worker.sh", "#!/bin/sh\nkill -SEGV $$\n");
    make_executable(&script);
    let jobs = dir.write("jobs.txt", "cube 2\n");
    let out = run(dir.supervisor().args(["--worker", "./crashing-worker.sh"]).arg(&jobs), None);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("SIGSEGV") && !err.contains("killed by procmap"), "{err}");
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_bare_worker_name_is_looked_up_in_path_not_the_current_directory() {
    let dir = Dir::new();
    // A file of that name here must not be what runs.
    let decoy = dir.write("supervisor-worker", "#!/bin/sh\nexit 7\n");
    make_executable(&decoy);
    let jobs = dir.write("jobs.txt", "cube 2\n");
    let bin = worker_path().parent().unwrap().to_owned();
    let out = run(
        dir.supervisor()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .args(["-q", "--worker", "supervisor-worker"])
            .arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Not on PATH at all: a clear error that suggests ./NAME.
    let out = run(
        dir.supervisor().env("PATH", "/usr/bin:/bin").args(["--worker", "supervisor-worker"]).arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not found in PATH") && stderr(&out).contains("./supervisor-worker"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn what_a_worker_leaves_running_dies_with_the_run() {
    let dir = Dir::new();
    let pidfile = dir.join("sleep.pid");
    let script = dir.write(
        "forking-worker.sh",
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > \"{}\"\nexec \"{}\"\n",
            pidfile.display(),
            worker_path().display()
        ),
    );
    make_executable(&script);
    let jobs = dir.write("jobs.txt", "cube 2\ncube 3\n");
    let out =
        run(dir.supervisor().args(["-q", "-p", "1", "--worker", "./forking-worker.sh"]).arg(&jobs), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    wait_until("the worker's leftover sleep to die", Duration::from_secs(10), || !alive(pid));
}

#[test]
fn a_crashed_record_counts_every_attempt_in_its_message() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 1\nfault segfault\ncube 3\n");
    let out = run(dir.supervisor().args(["-q", "-p", "1", "-c", "3"]).arg(&jobs), None);
    let records = stdout_records(&out);
    let crashed = records.iter().find(|r| r["status"] == "crashed").expect("a crashed record");
    // Default --retries 2: three runs in all, the first one in its chunk
    // included (the worker's marker says which job was running).
    assert_eq!(crashed["attempts"], 3, "{crashed}");
    let error = crashed["error"].as_str().unwrap();
    assert!(error.contains("each of its 3 attempts"), "{error}");
}

#[test]
fn a_job_that_crashes_in_a_shared_chunk_runs_at_most_retries_plus_one_times() {
    // Issue 19 #12: without start reports (no --timeout), the first death
    // among chunk neighbours used to be nobody's, so --retries 0 ran the
    // culprit twice. The marker pins it at once; its neighbours run once.
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "cube 1\ncube 2\nfault segfault\ncube 3\ncube 4\n");
    let out = run(dir.supervisor().args(["-q", "-p", "1", "-c", "5", "--retries", "0"]).arg(&jobs), None);
    let records = stdout_records(&out);
    assert_eq!(records.len(), 5, "{records:?}");
    for r in &records {
        if r["task"] == "fault" {
            assert_eq!((&r["status"], &r["attempts"]), (&"crashed".into(), &1.into()), "{r}");
            assert!(r["error"].as_str().unwrap().contains("its only attempt"), "{r}");
        } else {
            assert_eq!(
                (&r["status"], &r["attempts"]),
                (&"ok".into(), &1.into()),
                "an innocent ran once: {r}"
            );
        }
    }
}

#[test]
fn a_worker_that_dies_mid_write_leaves_no_temporary_file() {
    // The worker script leaves a temporary file for out/x.png under its own
    // pid, as a worker killed mid-write would; then it crashes on the first
    // job, with the job that writes x.png still in flight.
    let dir = Dir::new();
    let script = dir.write(
        "leaky-worker.sh",
        &format!(
            "#!/bin/sh\nmkdir -p out\ntouch out/.x.png.$$.0.tmp\necho $$ >> pids\nexec \"{}\"\n",
            worker_path().display()
        ),
    );
    make_executable(&script);
    let jobs = dir.write("jobs.txt", "fault segfault\neurosat-rgb missing.tif x.png\n");
    let out = run(
        dir.supervisor().args(["-q", "-p", "1", "-c", "2", "--worker", "./leaky-worker.sh"]).arg(&jobs),
        None,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let pids = std::fs::read_to_string(dir.join("pids")).unwrap();
    let first = pids.lines().next().unwrap();
    assert!(
        !dir.join(&format!("out/.x.png.{first}.0.tmp")).exists(),
        "the dead worker's temporary file is still there"
    );
}

/// The pid of the `sleep` a `fault daemon` job left in a session of its
/// own, from its record.
fn daemon_pid(records: &[serde_json::Value]) -> u32 {
    let record = records.iter().find(|r| r["args"][0] == "daemon").expect("the daemon job's record");
    assert_eq!(record["status"], "ok", "{record}");
    record["value"]["daemon"].as_u64().expect("the daemon's pid") as u32
}

/// Issue 19 #11: a job's child in a session of its own (`setsid`,
/// `start_new_session=True`) is out of its worker's process group, which is
/// all that killing the worker reached. Here its worker is ended by
/// `killer` (a crash, a timeout) while the run goes on; the child must die
/// with it, not at the run's end. The jobs come through a pipe, the killer
/// only once the daemon's record is out, so that the one worker has them
/// both and the daemon job is not rerun as the killer's neighbour.
fn a_daemon_dies_with_its_worker_mid_run(killer: &str, args: &[&str]) {
    use std::io::Write as _;
    let dir = Dir::new();
    let journal = dir.join("journal.jsonl");
    let mut flags = vec!["-q", "-p", "1", "-c", "1", "--retries", "0"];
    flags.extend_from_slice(args);
    let mut child = dir.spawn_on_stdin(&flags, &journal);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"fault daemon 120\n").unwrap();
    stdin.flush().unwrap();
    wait_until("the daemon job's record", Duration::from_secs(60), || journal_has(&journal, 1));
    let pid = daemon_pid(&journal_so_far(&journal));
    let worker = journal_so_far(&journal)[0]["worker"].clone();
    writeln!(stdin, "{killer}\nfault slow 600000").unwrap();
    stdin.flush().unwrap();
    wait_until(&format!("the record of `{killer}`"), Duration::from_secs(60), || journal_has(&journal, 2));
    let killed = &journal_so_far(&journal)[1];
    assert_eq!(killed["worker"], worker, "the daemon's worker ran `{killer}`: {killed}");
    assert_ne!(killed["status"], "ok", "{killed}");
    wait_until(
        &format!("the daemon {pid} to die after its worker was ended by `{killer}`"),
        Duration::from_secs(10),
        || !alive(pid),
    );
    assert!(child.try_wait().unwrap().is_none(), "the run goes on with its third job");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    wait_status(&mut child, Duration::from_secs(10), "the supervisor after SIGKILL");
}

#[test]
fn a_jobs_child_in_a_session_of_its_own_dies_when_its_worker_crashes() {
    a_daemon_dies_with_its_worker_mid_run("fault segfault", &[]);
}

#[test]
fn a_jobs_child_in_a_session_of_its_own_dies_when_its_worker_is_killed_for_a_timeout() {
    a_daemon_dies_with_its_worker_mid_run("fault hang", &["--timeout", "1s"]);
}

#[test]
fn a_jobs_child_in_a_session_of_its_own_dies_at_the_end_of_the_run() {
    let dir = Dir::new();
    let jobs = dir.write("jobs.txt", "fault daemon 120\ncube 2\n");
    let out = run(dir.supervisor().args(["-q", "-p", "1"]).arg(&jobs), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pid = daemon_pid(&stdout_records(&out));
    wait_until(&format!("the daemon {pid} to die once the run ended"), Duration::from_secs(10), || {
        !alive(pid)
    });
}

/// Issue 19: a timeout asks the worker to end with SIGTERM, then SIGKILLs
/// it after a grace. A worker that ignores SIGTERM (the disposition
/// survives `exec`) must still lose its job to the timeout, and the run
/// must go on to the next job: without the escalation it hangs for good.
#[test]
fn a_timeout_ends_a_worker_that_ignores_sigterm() {
    let dir = Dir::new();
    let script = dir
        .write("deaf-worker.sh", &format!("#!/bin/sh\ntrap '' TERM\nexec \"{}\"\n", worker_path().display()));
    make_executable(&script);
    let jobs = dir.write("jobs.txt", "fault hang\ncube 2\n");
    let mut child = dir
        .supervisor()
        .args(["-q", "-p", "1", "-c", "1", "--timeout", "1s", "--worker", "./deaf-worker.sh"])
        .arg(&jobs)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_status(&mut child, Duration::from_secs(60), "the run whose worker ignores SIGTERM");
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut text).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    let records = normalized(records(&text));
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["status"], "timeout", "{records:?}");
    assert_eq!((&records[1]["status"], &records[1]["value"]), (&"ok".into(), &8.into()), "{records:?}");
}

/// Issue 19: a supervisor killed with SIGKILL cannot remove its marker
/// directory (`/dev/shm/procmap-jobs-PID-N`); the next run removes it, as
/// its process is gone.
#[test]
fn the_marker_directory_of_a_killed_supervisor_is_removed_by_the_next_run() {
    let dir = Dir::new();
    let (mut child, _) = dir.spawn_run(&["-q", "-p", "1"], "fault slow 600000\n");
    let marks = std::path::Path::new("/dev/shm").join(format!("procmap-jobs-{}-0", child.id()));
    wait_until(&format!("{} to exist", marks.display()), Duration::from_secs(60), || marks.is_dir());
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    wait_status(&mut child, Duration::from_secs(10), "the supervisor after SIGKILL");
    assert!(marks.is_dir(), "left behind by SIGKILL");
    let jobs = dir.write("more.txt", "cube 2\n");
    let out = run(dir.supervisor().args(["-q"]).arg(&jobs), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!marks.exists(), "{} removed by the next run", marks.display());
}

/// Issue 19 #11: the supervisor is a subreaper while it runs, so what a
/// worker's child left when it ended comes to it; one that then ends by
/// itself is reaped at once, not left a zombie until the run ends.
#[test]
fn an_orphan_that_ends_by_itself_is_reaped_while_the_run_goes_on() {
    let dir = Dir::new();
    let pidfile = dir.join("orphan.pid");
    let script = dir.write(
        "orphaning-worker.sh",
        &format!(
            "#!/bin/sh\n(sleep 0.3 & echo $! > \"{}\")\nexec \"{}\"\n",
            pidfile.display(),
            worker_path().display()
        ),
    );
    make_executable(&script);
    let (mut child, _) =
        dir.spawn_run(&["-q", "-p", "1", "--worker", "./orphaning-worker.sh"], "fault slow 600000\n");
    wait_until("the orphan's pid file", Duration::from_secs(60), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|t| t.ends_with('\n'))
    });
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    wait_until(&format!("the orphan {pid} to end and be reaped"), Duration::from_secs(30), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(child.try_wait().unwrap().is_none(), "the run goes on");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    wait_status(&mut child, Duration::from_secs(10), "the supervisor after SIGKILL");
}
