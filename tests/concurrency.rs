//! Issue 10: each mode runs as many jobs at once as it says, measured by
//! the jobs themselves (`fault overlap` counts how many of its jobs run at
//! once in its process), never by time.

use crate::util::*;
use std::collections::HashMap;

/// The highest `peak` any job reported, per worker pid.
fn peaks(args: &[&str], jobs: usize) -> HashMap<u64, u64> {
    let dir = Dir::new();
    let text = "fault overlap 40\n".repeat(jobs);
    let out = run(dir.supervisor().args(["-q", "-c", "1"]).args(args).arg("-"), Some(&text));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = stdout_records(&out);
    assert_eq!(records.len(), jobs);
    let mut peaks = HashMap::new();
    for r in &records {
        let pid = r["value"]["pid"].as_u64().unwrap();
        let peak = r["value"]["peak"].as_u64().unwrap();
        let entry = peaks.entry(pid).or_insert(0);
        *entry = (*entry).max(peak);
    }
    peaks
}

#[test]
fn hybrid_mode_runs_t_threads_in_each_of_p_workers() {
    let peaks = peaks(&["-p", "2", "--threads", "3"], 60);
    assert_eq!(peaks.len(), 2, "two worker processes: {peaks:?}");
    assert!(peaks.values().all(|&p| p == 3), "three jobs at once in each: {peaks:?}");
}

#[test]
fn thread_mode_runs_p_jobs_at_once_in_one_process() {
    let peaks = peaks(&["--mode", "thread", "-p", "4"], 60);
    assert_eq!(peaks.len(), 1, "{peaks:?}");
    assert_eq!(peaks.values().next(), Some(&4), "{peaks:?}");
}

#[test]
fn process_and_serial_modes_run_one_job_at_a_time_per_process() {
    let peaks = peaks(&["-p", "2"], 20);
    assert!(peaks.values().all(|&p| p == 1), "{peaks:?}");
    let peaks = self::peaks(&["--mode", "serial"], 5);
    assert_eq!(peaks.values().copied().collect::<Vec<_>>(), [1]);
}
