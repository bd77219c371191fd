//! The report and its text, from journals on disk: every count, the
//! lists, the notes and the verdict.

use super::*;
use procmap_batch::identity::{job_hash, shard_of};
use procmap_batch::rundir::{Manifest, RunDir};
use procmap_batch::shard::Shard;
use std::path::Path;

const HEADER: &str = "{\"journal\":2,\"writer\":\"test\",\"started_unix\":1.0,\"host\":\"h\",\"pid\":1}\n";

fn record(line: u64, x: &str, status: &str, ms: f64) -> String {
    let error = if status == "ok" { String::new() } else { format!(",\"error\":\"bad {x}\\nsecond line\"") };
    format!(
        "{{\"line\":{line},\"task\":\"cube\",\"args\":[\"{x}\"],\"status\":\"{status}\"{error},\"attempts\":1,\"ms\":{ms}}}\n"
    )
}

fn shard(x: &str) -> u32 {
    shard_of(job_hash("cube", &[x.to_owned()]), 2)
}

/// Arguments 1..=40 sorted by the shard of 2 they fall in.
fn by_shard() -> [Vec<String>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for x in 1..=40 {
        out[shard(&x.to_string()) as usize].push(x.to_string());
    }
    out
}

/// A run directory of 2 shards. The jobs file is `a0 a1 a2 a3 a4 b0 b1`
/// (a in shard 0, b in shard 1). Shard 0: a0 ok (twice), a1 error, a2
/// crashed then ok, a3 timeout, a4 missing; a stray b-record; a stale
/// record; a torn line. Shard 1: b0 ok, b1 missing.
fn batch(dir: &Path) -> (PathBuf, [Vec<String>; 2]) {
    let s = by_shard();
    let (a, b) = (&s[0], &s[1]);
    let jobs = dir.join("jobs.txt");
    std::fs::write(&jobs, format!("{}\n{}\n{}\n{}\n{}\n{}\n{}\n", a[0], a[1], a[2], a[3], a[4], b[0], b[1]))
        .unwrap();
    let run = RunDir::new(dir.join("run"));
    run.create(&Manifest::new(jobs, Some("cube".into()), 2)).unwrap();
    let zero = [
        HEADER.to_owned(),
        record(1, &a[0], "ok", 1000.0),
        record(2, &a[1], "error", 500.0),
        record(3, &a[2], "crashed", 10.0),
        record(3, &a[2], "ok", 250.0),
        record(4, &a[3], "timeout", 2000.0),
        record(1, &a[0], "ok", 1000.0),
        record(6, &b[0], "ok", 1.0),
        record(9, &a[9], "ok", 1.0),
        "{\"line\":4,\"ta".to_owned(),
    ]
    .concat();
    std::fs::write(run.journal(Shard { index: 0, count: 2 }), zero).unwrap();
    let one = [HEADER.to_owned(), record(6, &b[0], "ok", 125.0)].concat();
    std::fs::write(run.journal(Shard { index: 1, count: 2 }), one).unwrap();
    (run.path, s)
}

/// A report of `shards` that found nothing else: no failures, no
/// missing lines, nothing stray.
fn report_with(shards: Vec<Row>) -> Report {
    Report {
        run_dir: None,
        jobs_file: None,
        shards,
        total: Counts::default(),
        complete: false,
        all_ok: false,
        failed: Vec::new(),
        missing_lines: Vec::new(),
        ok_twice: 0,
        stale_records: 0,
        stray_records: 0,
        torn_lines: 0,
    }
}

fn report_of(paths: &[PathBuf], jobs: Option<&Path>, limit: usize) -> Report {
    let ledger = Ledger::load(Sources::from_paths(paths, jobs, Some("cube")).unwrap()).unwrap();
    report(&ledger, limit).unwrap()
}

#[test]
fn a_run_directorys_report_counts_every_job_by_its_latest_record() {
    let dir = tempfile::tempdir().unwrap();
    let (run, s) = batch(dir.path());
    let r = report_of(std::slice::from_ref(&run), None, 20);
    assert_eq!(r.run_dir.as_deref(), Some(run.as_path()));
    assert_eq!(r.jobs_file.as_deref(), Some(dir.path().join("jobs.txt").as_path()));
    let t = &r.total;
    assert_eq!((t.jobs, t.ok, t.error, t.crashed, t.timeout, t.missing), (7, 3, 1, 0, 1, 2));
    assert_eq!(t.not_ok(), 2);
    assert!((t.busy_s - (1.0 + 0.5 + 0.25 + 2.0 + 0.125)).abs() < 1e-9, "{}", t.busy_s);
    let rows: Vec<(Option<u32>, u64, u64, u64)> =
        r.shards.iter().map(|row| (row.shard, row.counts.jobs, row.counts.ok, row.counts.missing)).collect();
    assert_eq!(rows, [(Some(0), 5, 2, 1), (Some(1), 2, 1, 1)]);
    assert!(r.shards[1].journal.ends_with("journal/shard-0001-of-0002.jsonl"));
    assert!(!r.complete && !r.all_ok);
    assert_eq!(r.missing_lines, [5, 7]);
    assert_eq!((r.ok_twice, r.stale_records, r.stray_records, r.torn_lines), (1, 1, 1, 1));
    let failed: Vec<(u64, Option<u32>, Status, &str)> =
        r.failed.iter().map(|f| (f.line, f.shard, f.status, f.args[0].as_str())).collect();
    assert_eq!(
        failed,
        [(2, Some(0), Status::Error, s[0][1].as_str()), (4, Some(0), Status::Timeout, s[0][3].as_str())]
    );
    assert_eq!(r.failed[0].task, "cube");
    assert_eq!(r.failed[0].error.as_deref(), Some(format!("bad {}\nsecond line", s[0][1]).as_str()));
    assert_eq!(r.incomplete_shards(false), [0, 1]);
    assert_eq!(r.incomplete_shards(true), [0, 1]);
    // The failed list is cut at the limit, in line order.
    let r = report_of(&[run], None, 1);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].line, 2);
    assert_eq!(r.total.not_ok(), 2);
}

#[test]
fn incomplete_shards_are_those_missing_jobs_or_with_failed_those_not_ok() {
    let row = |shard, missing, error| Row {
        shard: Some(shard),
        journal: PathBuf::new(),
        counts: Counts { jobs: 5, ok: 5 - missing - error, error, missing, ..Counts::default() },
    };
    let whole = Row {
        shard: None,
        journal: PathBuf::new(),
        counts: Counts { jobs: 1, missing: 1, ..Counts::default() },
    };
    let r = Report {
        complete: false,
        ..report_with(vec![row(0, 0, 0), row(1, 1, 0), row(2, 0, 1), row(3, 2, 2), whole])
    };
    assert_eq!(r.incomplete_shards(false), [1, 3]);
    assert_eq!(r.incomplete_shards(true), [1, 2, 3]);
}

#[test]
fn without_a_jobs_file_every_record_is_a_job_of_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = batch(dir.path());
    let journal = RunDir::new(&run).journal(Shard { index: 0, count: 2 });
    let ledger = Ledger::load(Sources::from_paths(&[journal], None, None).unwrap()).unwrap();
    let r = report(&ledger, 20).unwrap();
    assert!(r.jobs_file.is_none() && r.run_dir.is_none());
    // a0 a1 a2 a3, a9 (not stale without a jobs file); the b-record is stray.
    let t = &r.total;
    assert_eq!((t.jobs, t.ok, t.error, t.timeout, t.missing), (5, 3, 1, 1, 0));
    assert_eq!((r.stale_records, r.stray_records, r.ok_twice), (0, 1, 1));
    assert!(r.complete && !r.all_ok);
    let text = render(&r);
    assert!(
        text.starts_with("5 jobs with records (no jobs file: missing jobs not counted), 1 journal(s)\n"),
        "{text}"
    );
    assert!(text.contains("\n0      "), "the shard's row: {text}");
    assert!(text.ends_with("every job has a record; some are not ok\n"), "{text}");
    assert!(!text.contains("slowest shards"), "one journal: {text}");
    assert!(
        text.contains("not ok (2 jobs):\n") && !text.contains("more (--failed"),
        "every failure listed: {text}"
    );
}

#[test]
fn the_text_says_counts_failures_missing_lines_notes_and_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (run, s) = batch(dir.path());
    let text = render(&report_of(std::slice::from_ref(&run), None, 1));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("{}: 7 jobs of {}, 2 journal(s)", run.display(), dir.path().join("jobs.txt").display())
    );
    assert_eq!(lines[1], "shard      jobs       ok  error  crashed  timeout  missing    busy s");
    assert_eq!(lines[2], "0             5        2      1        0        1        1     3.750");
    assert_eq!(lines[3], "1             2        1      0        0        0        1     0.125");
    assert_eq!(lines[4], "total         7        3      1        0        1        2     3.875");
    assert_eq!(lines[5], "slowest shards (job time): 0 (3.75 s), 1 (0.12 s)");
    assert_eq!(lines[6], "not ok (2 jobs):");
    assert_eq!(lines[7], format!("  line 2 shard 0: error `cube {}` bad {}", s[0][1], s[0][1]));
    assert_eq!(lines[8], "  … and 1 more (--failed N, or --json)");
    assert_eq!(lines[9], "missing (2 jobs): lines 5, 7");
    assert_eq!(
        lines[10],
        format!(
            "incomplete shards: 0,1 (when they have stopped: supervisor slurm resubmit {})",
            run.display()
        )
    );
    assert_eq!(lines[11], "note: 1 job(s) recorded ok more than once");
    assert_eq!(lines[12], "note: 1 record(s) of jobs no longer in the jobs file, ignored");
    assert_eq!(lines[13], "note: 1 record(s) in a shard's journal that belong to another shard, ignored");
    assert_eq!(lines[14], "note: 1 unreadable journal line(s), ignored");
    assert_eq!(lines[15], "incomplete: some jobs have no record yet");
    assert_eq!(lines.len(), 16);
}

#[test]
fn an_all_ok_batch_says_so_and_lists_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.txt");
    std::fs::write(&jobs, "1\n2\n").unwrap();
    let journal = dir.path().join("all.jsonl");
    std::fs::write(&journal, [HEADER, &record(1, "1", "ok", 1.0), &record(2, "2", "ok", 1.0)].concat())
        .unwrap();
    let r = report_of(&[journal], Some(&jobs), 20);
    assert!(r.complete && r.all_ok);
    assert_eq!(r.shards[0].shard, None);
    let text = render(&r);
    assert!(text.starts_with(&format!("2 jobs of {}, 1 journal(s)\n", jobs.display())), "{text}");
    assert!(text.contains("\nall.jsonl  "), "a whole-batch journal's row is its name: {text}");
    assert!(
        text.ends_with(
            "total             2        2      0        0        0        0     0.002\nevery job is ok\n"
        ),
        "the label column as wide as the journal's name: {text}"
    );
}

#[test]
fn beyond_a_screenful_of_shards_only_those_not_all_ok_are_listed() {
    let row = |i: u32, ok| Row {
        shard: Some(i),
        journal: PathBuf::new(),
        counts: Counts { jobs: 1, ok, error: 1 - ok, busy_s: f64::from(i), ..Counts::default() },
    };
    let mut shards: Vec<Row> = (0..SHARD_ROWS as u32 + 5).map(|i| row(i, u64::from(i % 10 != 3))).collect();
    let r = |shards| Report { complete: true, ..report_with(shards) };
    let text = render(&r(std::mem::take(&mut shards)));
    let rows: Vec<&str> =
        text.lines().skip(2).filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(rows.len(), 5, "shards 3, 13, 23, 33, 43: {text}");
    assert!(rows[1].starts_with("13 "), "{text}");
    assert!(text.contains("… and 40 more shard(s): beyond 40 shards"), "{text}");
    assert!(text.contains("slowest shards (job time): 44 (44.00 s), 43 (43.00 s), 42 (42.00 s)\n"), "{text}");
    let few: Vec<Row> = (0..SHARD_ROWS as u32).map(|i| row(i, 1)).collect();
    let text = render(&r(few));
    assert_eq!(
        text.lines().skip(2).filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count(),
        SHARD_ROWS
    );
    assert!(!text.contains("more shard(s)"), "{text}");
}

#[test]
fn counts_add_and_merge_field_by_field() {
    let mut c = Counts::default();
    c.add(None);
    assert_eq!((c.jobs, c.missing, c.busy_s), (1, 1, 0.0));
    let latest = |status, ms| procmap_batch::ledger::Latest {
        status,
        journal: 0,
        offset: 0,
        len: 0,
        line: 1,
        occurrence: 0,
        ms,
        oks: 0,
    };
    c.add(Some(&latest(Status::Crashed, 1500.0)));
    c.add(Some(&latest(Status::Timeout, 0.0)));
    c.add(Some(&latest(Status::Error, 0.0)));
    c.add(Some(&latest(Status::Ok, 500.0)));
    assert_eq!((c.jobs, c.ok, c.error, c.crashed, c.timeout, c.missing, c.busy_s), (5, 1, 1, 1, 1, 1, 2.0));
    let mut total = c.clone();
    total.merge(&c);
    assert_eq!(
        (total.jobs, total.ok, total.error, total.crashed, total.timeout, total.missing, total.busy_s),
        (10, 2, 2, 2, 2, 2, 4.0)
    );
    assert_eq!(total.not_ok(), 6);
}

#[test]
fn long_errors_are_clipped_by_characters() {
    assert_eq!(clip("héllo", 3), "hél…");
    assert_eq!(clip("héllo", 5), "héllo");
    assert_eq!(clip("", 0), "");
}

#[test]
fn at_most_20_missing_lines_are_kept_and_the_text_says_there_are_more() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.txt");
    std::fs::write(&jobs, (1..=22).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let journal = dir.path().join("all.jsonl");
    std::fs::write(&journal, [HEADER, &record(1, "1", "ok", 1.0)].concat()).unwrap();
    let r = report_of(&[journal], Some(&jobs), 20);
    assert_eq!(r.total.missing, 21);
    assert_eq!(r.missing_lines, (2..=21).collect::<Vec<u64>>());
    let text = render(&r);
    assert!(text.contains("missing (21 jobs): lines 2, 3, 4,") && text.contains(", 20, 21, …\n"), "{text}");
}

#[test]
fn the_exit_code_says_whether_every_job_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let (run_path, _) = batch(dir.path());
    let args = |paths: Vec<PathBuf>, jobs: Option<PathBuf>, json| StatusArgs {
        paths,
        jobs,
        task: Some("cube".into()),
        json,
        failed: 20,
    };
    assert_eq!(run(&args(vec![run_path.clone()], None, false)).unwrap(), exit::JOBS_FAILED);
    assert_eq!(run(&args(vec![run_path], None, true)).unwrap(), exit::JOBS_FAILED);
    let jobs = dir.path().join("ok.txt");
    std::fs::write(&jobs, "1\n").unwrap();
    let journal = dir.path().join("ok.jsonl");
    std::fs::write(&journal, [HEADER, &record(1, "1", "ok", 1.0)].concat()).unwrap();
    assert_eq!(run(&args(vec![journal], Some(jobs), false)).unwrap(), exit::OK);
}
