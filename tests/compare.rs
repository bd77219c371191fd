//! `supervisor compare`: every configuration measured, the table, the CSV
//! and the chart written, and runs that go wrong reported by name. Timings
//! are only checked to be positive: their values depend on the machine.

use crate::util::{Dir, code, run, stderr};
use std::path::Path;

/// `cube 1` … `cube n`: fast jobs, so the whole comparison takes seconds.
fn cube_jobs(dir: &Dir, n: u32) -> std::path::PathBuf {
    let text: String = (1..=n).map(|i| format!("cube {i}\n")).collect();
    dir.write("jobs.txt", &text)
}

/// Scratch directories go to TMPDIR; pointing it into the test directory
/// lets the test see that compare removes them.
fn private_tmp(dir: &Dir) -> std::path::PathBuf {
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("create tmp");
    tmp
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("read results.csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("CSV header").split(',').map(str::to_owned).collect();
    let rows = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    (header, rows)
}

#[test]
fn compare_measures_every_configuration() {
    let dir = Dir::new();
    cube_jobs(&dir, 2000);
    let tmp = private_tmp(&dir);
    let out = run(
        dir.supervisor().env("TMPDIR", &tmp).args([
            "compare",
            "--modes",
            "serial,thread,process,hybrid",
            "--procs",
            "1,2",
            "--chunksizes",
            "16,auto",
            "--threads",
            "2",
            "--report",
            "rep",
            "jobs.txt",
        ]),
        None,
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "stderr: {err}");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();

    // serial once; thread, process and hybrid for each procs × chunksize.
    let mut expected = vec![("serial", "1", "1", "-")];
    for (mode, threads) in [("thread", "1"), ("process", "1"), ("hybrid", "2")] {
        for chunk in ["16", "auto"] {
            for procs in ["1", "2"] {
                expected.push((mode, procs, threads, chunk));
            }
        }
    }
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 10 && ["serial", "thread", "process", "hybrid"].contains(&f[0]))
        .collect();
    assert_eq!(rows.len(), expected.len(), "table:\n{table}");
    for (mode, procs, threads, chunk) in &expected {
        assert!(
            rows.iter().any(|f| f[..4] == [*mode, *procs, *threads, *chunk]),
            "no row for {mode} procs={procs} threads={threads} chunksize={chunk} in:\n{table}"
        );
    }
    let serial = rows.iter().find(|f| f[0] == "serial").expect("serial row");
    assert_eq!(serial[7], "1.00", "serial speedup in:\n{table}");
    assert!(err.contains(&format!("[{0}/{0}]", expected.len())), "progress: {err}");

    let (header, csv) = csv_rows(&dir.join("rep/results.csv"));
    assert_eq!(csv.len(), expected.len());
    let col =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    let (mode, rate, speedup, failed) = (col("mode"), col("jobs_per_s"), col("speedup"), col("failed"));
    let cpu = col("cpu_ms_per_job");
    for row in &csv {
        // Issue 21: the CPU time of the run, supervisor and workers (each
        // run starts processes, so never zero).
        assert!(row[cpu].parse::<f64>().is_ok_and(|ms| ms > 0.0), "row {row:?}");
        assert_eq!(row.len(), header.len(), "row {row:?}");
        let per_sec: f64 = row[rate].parse().expect("jobs_per_s is a number");
        assert!(per_sec > 0.0, "row {row:?}");
        assert_eq!(row[failed], "0", "row {row:?}");
        assert!(row[speedup].parse::<f64>().is_ok_and(|s| s > 0.0), "row {row:?}");
    }
    let serial = csv.iter().find(|r| r[mode] == "serial").expect("serial in CSV");
    assert_eq!(serial[speedup].parse::<f64>().expect("speedup"), 1.0);

    let svg = std::fs::read_to_string(dir.join("rep/report.svg")).expect("read report.svg");
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "not SVG: {}", &svg[..svg.len().min(80)]);
    for title in ["jobs per second", "speedup vs serial", "workers (procs × threads)", "ideal"] {
        assert!(svg.contains(title), "report.svg has no {title:?}");
    }
    assert!(svg.trim_end().ends_with("</svg>"));

    // The runs' journals and outputs lived in a scratch directory that is
    // gone, and nothing was written to the default out/.
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("read tmp").collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
    assert!(!dir.join("out").exists());
}

#[test]
fn compare_counts_failed_jobs_and_exits_1() {
    let dir = Dir::new();
    dir.write("jobs.txt", "cube 2\nfault panic\ncube 3\nnosuchtask 1\n");
    let out = run(
        dir.supervisor().args([
            "compare",
            "--modes",
            "serial,thread",
            "--procs",
            "2",
            "--report",
            "rep",
            "jobs.txt",
        ]),
        None,
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "stderr: {err}");
    assert!(err.contains("2 of 4 jobs failed"), "stderr: {err}");
    let (header, csv) = csv_rows(&dir.join("rep/results.csv"));
    let failed = header.iter().position(|h| h == "failed").expect("failed column");
    assert_eq!(csv.len(), 2);
    assert!(csv.iter().all(|r| r[failed] == "2"), "{csv:?}");
}

#[test]
fn compare_names_the_configuration_that_cannot_run() {
    let dir = Dir::new();
    cube_jobs(&dir, 10);
    let out = run(
        dir.supervisor().args([
            "compare",
            "--modes",
            "serial,process",
            "--procs",
            "2",
            "--worker",
            "/nonexistent/worker",
            "--report",
            "rep",
            "jobs.txt",
        ]),
        None,
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "stderr: {err}");
    assert!(err.contains("process procs=2 chunksize=auto"), "stderr: {err}");
    assert!(err.contains("/nonexistent/worker"), "the child's stderr is shown: {err}");
    assert!(!dir.join("rep").exists(), "no report from a failed comparison");
}

#[test]
fn compare_needs_a_jobs_file() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["compare", "-"]), Some("cube 1\n"));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not standard input"), "stderr: {}", stderr(&out));
    let out = run(dir.supervisor().args(["compare", "missing.txt"]), None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing.txt"), "stderr: {}", stderr(&out));
}
