//! Issue 8: a jobs file can be anything (one endless line, binary junk, a
//! byte-order mark) and the supervisor's memory stays flat.

use crate::util::*;
use std::time::Duration;

/// Peak resident memory of a finished child, from its /proc status while
/// it still runs is racy; we read VmHWM of a process we keep alive instead.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Bytes the process has read so far (`rchar` in /proc/PID/io).
fn bytes_read(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let line = io.lines().find(|l| l.starts_with("rchar:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_256_mib_line_of_nuls_costs_neither_memory_nor_a_huge_record() {
    let dir = Dir::new();
    let path = dir.join("nul.txt");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(256 << 20).unwrap(); // a sparse file of NULs, no newline
    let out = run(dir.supervisor().args(["-q", "--mode", "serial"]).arg(&path), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), 1, "one record for the one line");
    let error = records[0]["error"].as_str().unwrap();
    assert!(error.starts_with("line 1 is longer than 1 MiB"), "{error}");
    assert!(out.stdout.len() < 1000, "the record quotes a bounded excerpt: {} bytes", out.stdout.len());
}

#[test]
fn an_endless_line_gets_its_record_and_memory_stays_flat() {
    // /dev/zero never ends and has no newline: before issue 8 the reader
    // buffered it until the OOM killer came.
    let dir = Dir::new();
    let journal = dir.join("j.jsonl");
    let mut child = dir
        .supervisor()
        .args(["-q", "-p", "1", "-o"])
        .arg(&journal)
        .arg("/dev/zero")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the overlong line's record", Duration::from_secs(60), || {
        std::fs::read_to_string(&journal).is_ok_and(|t| t.contains("longer than 1 MiB"))
    });
    // Let it read 256 MiB more of zeros, counted by the kernel, before its
    // peak is read.
    let read_at_record = bytes_read(child.id()).expect("rchar of the running supervisor");
    wait_until("the supervisor to read 256 MiB more of /dev/zero", Duration::from_secs(60), || {
        bytes_read(child.id()).is_some_and(|n| n >= read_at_record + (256 << 20))
    });
    let peak = peak_rss_kb(child.id()).expect("VmHWM of the running supervisor");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_status(&mut child, Duration::from_secs(30), "supervisor after SIGINT");
    assert_eq!(status.code(), Some(130));
    assert!(peak < 100_000, "peak RSS {peak} KB while reading /dev/zero");
}

#[test]
fn a_byte_order_mark_and_a_latin1_comment_are_not_errors() {
    let dir = Dir::new();
    let path = dir.join("jobs.txt");
    std::fs::write(&path, b"\xef\xbb\xbfcube 2\n# caf\xe9 cr\xe8me\ncube 3\n").unwrap();
    let out = run(dir.supervisor().args(["-q"]).arg(&path), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let values: Vec<_> = normalized(stdout_records(&out)).iter().map(|r| r["value"].clone()).collect();
    assert_eq!(values, [8, 27]);
}

#[test]
fn an_image_task_reads_only_the_first_bytes_of_a_file_that_is_not_an_image() {
    // A FIFO whose writer sends 40 bytes and never closes it: a task that
    // read the whole file before sniffing it would wait forever (and read
    // all of /dev/zero, before issue 8).
    use std::io::Write;
    let dir = Dir::new();
    let fifo = dir.join("endless.tif");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let writer_path = fifo.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut pipe = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
        pipe.write_all(b"this is not a tiff, and it never ends....").unwrap();
        // Hold the pipe open until the run is over.
        let _ = done_rx.recv_timeout(Duration::from_secs(120));
    });
    let jobs = dir.write("jobs.txt", &format!("eurosat-rgb {}\n", fifo.display()));
    let out = run(dir.supervisor().args(["-q", "-p", "1", "--timeout", "60s"]).arg(&jobs), None);
    let _ = done_tx.send(());
    writer.join().unwrap();
    let records = normalized(stdout_records(&out));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["status"], "error", "{}", records[0]);
    assert!(records[0]["error"].as_str().unwrap().contains("not a tiff file"), "{}", records[0]);
}
