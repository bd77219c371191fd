//! Merging journals on disk: which record wins and where it goes, what
//! the merged file holds, and which outputs are refused.

use super::*;
use procmap_batch::identity::{job_hash, shard_of};
use procmap_batch::rundir::{Manifest, RunDir};
use procmap_batch::shard::Shard;

const HEADER: &str = "{\"journal\":2,\"writer\":\"test\",\"started_unix\":1.0,\"host\":\"h\",\"pid\":1}\n";

fn record(line: u64, x: &str, status: &str) -> String {
    format!(
        "{{\"line\":{line},\"task\":\"cube\",\"args\":[\"{x}\"],\"status\":\"{status}\",\"future\":[1]}}\n"
    )
}

/// Two arguments of shard 0 and one of shard 1, of 2.
fn args() -> (String, String, String) {
    let of = |want| {
        (1..100)
            .map(|x: u32| x.to_string())
            .filter(move |x| shard_of(job_hash("cube", std::slice::from_ref(x)), 2) == want)
    };
    let mut zero = of(0);
    (zero.next().unwrap(), zero.next().unwrap(), of(1).next().unwrap())
}

/// A run directory whose jobs file puts the jobs in another order than
/// they ran, with a line inserted since: `x` is now line 4, `y` line 2,
/// `z` line 3; `w` (line 5) has no record. `x` failed, then was ok.
fn run_dir(dir: &Path) -> (PathBuf, (String, String, String)) {
    let (x, y, z) = args();
    let jobs = dir.join("jobs.txt");
    std::fs::write(&jobs, format!("# new\n{y}\n{z}\n{x}\n{}\n", 1000)).unwrap();
    let run = RunDir::new(dir.join("run"));
    run.create(&Manifest::new(jobs, Some("cube".into()), 2)).unwrap();
    let zero =
        [HEADER.to_owned(), record(1, &x, "error"), record(2, &y, "error"), record(1, &x, "ok")].concat();
    std::fs::write(run.journal(Shard { index: 0, count: 2 }), zero).unwrap();
    std::fs::write(
        run.journal(Shard { index: 1, count: 2 }),
        [HEADER.to_owned(), record(3, &z, "ok")].concat(),
    )
    .unwrap();
    (run.path, (x, y, z))
}

fn merge(paths: &[PathBuf], output: &Path, overwrite: bool, jobs: Option<&Path>) -> anyhow::Result<u8> {
    run(&MergeArgs {
        paths: paths.to_vec(),
        output: output.to_owned(),
        overwrite,
        jobs: jobs.map(Path::to_owned),
        task: jobs.map(|_| "cube".to_owned()),
    })
}

fn lines_after_header(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(str::to_owned);
    let header: serde_json::Value = serde_json::from_str(&lines.next().unwrap()).unwrap();
    assert_eq!(
        (header["journal"].as_u64(), header["writer"].as_str()),
        (Some(2), Some(concat!("supervisor merge ", env!("CARGO_PKG_VERSION"))))
    );
    assert!(text.ends_with('\n'));
    lines.collect()
}

#[test]
fn the_latest_records_come_out_in_jobs_file_order_with_their_lines_now() {
    let dir = tempfile::tempdir().unwrap();
    let (run, (x, y, z)) = run_dir(dir.path());
    let out = dir.path().join("all.jsonl");
    assert_eq!(merge(std::slice::from_ref(&run), &out, false, None).unwrap(), exit::OK);
    assert_eq!(
        lines_after_header(&out),
        [record(2, &y, "error"), record(3, &z, "ok"), record(4, &x, "ok")].map(|r| r.trim_end().to_owned())
    );
    let ledger = Ledger::load(Sources::from_paths(&[run], None, None).unwrap()).unwrap();
    let (records, missing) = winners(&ledger);
    assert_eq!(missing, Some(1));
    assert_eq!(records.iter().map(|(_, line)| *line).collect::<Vec<_>>(), [Some(2), Some(3), Some(4)]);
}

#[test]
fn without_a_jobs_file_records_keep_their_lines_in_journal_order() {
    let dir = tempfile::tempdir().unwrap();
    let (run, (x, y, z)) = run_dir(dir.path());
    let journals: Vec<PathBuf> =
        (0..2).map(|index| RunDir::new(&run).journal(Shard { index, count: 2 })).collect();
    let ledger = Ledger::load(Sources::from_paths(&journals, None, None).unwrap()).unwrap();
    let (records, missing) = winners(&ledger);
    assert_eq!(missing, None);
    let got: Vec<(u32, u64, Option<u64>)> =
        records.iter().map(|(l, line)| (l.journal, l.line, *line)).collect();
    // y's only record comes before x's latest in shard 0's journal.
    assert_eq!(got, [(0, 2, None), (0, 1, None), (1, 3, None)]);
    let out = dir.path().join("all.jsonl");
    merge(&journals, &out, false, None).unwrap();
    assert_eq!(
        lines_after_header(&out),
        [record(2, &y, "error"), record(1, &x, "ok"), record(3, &z, "ok")].map(|r| r.trim_end().to_owned())
    );
    // --jobs orders them and gives current lines.
    let out = dir.path().join("ordered.jsonl");
    merge(&journals, &out, false, Some(&dir.path().join("jobs.txt"))).unwrap();
    assert_eq!(lines_after_header(&out)[0], record(2, &y, "error").trim_end());
}

#[test]
fn an_existing_output_is_replaced_only_with_overwrite_and_only_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = run_dir(dir.path());
    let out = dir.path().join("all.jsonl");
    std::fs::write(&out, "").unwrap();
    merge(std::slice::from_ref(&run), &out, false, None).expect("an empty file may be written");
    let err = merge(std::slice::from_ref(&run), &out, false, None).unwrap_err().to_string();
    assert!(err.contains("already exists: add --overwrite"), "{err}");
    std::fs::write(&out, "old\n").unwrap();
    merge(std::slice::from_ref(&run), &out, true, None).unwrap();
    assert_eq!(lines_after_header(&out).len(), 3);
    // Readable as the umask allows, as the shards' journals are.
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o666 & !umask());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    assert_eq!(umask(), umask(), "reading the mask leaves it as it was");
}

#[test]
fn the_batchs_own_files_and_what_is_not_a_regular_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = run_dir(dir.path());
    let journal = RunDir::new(&run).journal(Shard { index: 0, count: 2 });
    let cases: Vec<(PathBuf, &str)> = vec![
        (journal.clone(), "is one of the journals being merged"),
        (dir.path().join("jobs.txt"), "is the jobs file"),
        (run.join("run.json"), "is the run directory's run.json"),
        (dir.path().to_owned(), "is a directory"),
    ];
    for (output, why) in cases {
        let err = merge(std::slice::from_ref(&run), &output, true, None).unwrap_err().to_string();
        assert!(err.contains(why), "{}: {err}", output.display());
    }
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
    let err = merge(std::slice::from_ref(&run), &link, true, None).unwrap_err().to_string();
    assert!(err.contains("is a symbolic link"), "{err}");
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let err = merge(std::slice::from_ref(&run), &fifo, false, None).unwrap_err().to_string();
    assert!(err.contains("not a regular file (a FIFO"), "{err}");
    // A journal named on the command line, merged into itself.
    let err = merge(std::slice::from_ref(&journal), &journal, true, None).unwrap_err().to_string();
    assert!(err.contains("is one of the journals being merged"), "{err}");
}

#[test]
fn the_summary_counts_records_not_ok_and_missing_and_a_bare_name_is_written_here() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = run_dir(dir.path());
    let ledger = Ledger::load(Sources::from_paths(&[run], None, None).unwrap()).unwrap();
    let (records, _) = winners(&ledger);
    assert_eq!(
        summary(&records, 2, "all.jsonl", Some(1)),
        "supervisor merge: 3 records from 2 journal(s) into all.jsonl; 1 not ok; 1 jobs have no record yet"
    );
    assert_eq!(
        summary(&records, 2, "stdout", Some(0)),
        "supervisor merge: 3 records from 2 journal(s) into stdout; 1 not ok"
    );
    assert!(summary(&[], 1, "x", None).ends_with("; 0 not ok (no jobs file: missing jobs not counted)"));
    assert_eq!(dir_of(Path::new("all.jsonl")), Path::new("."));
    assert_eq!(dir_of(Path::new("out/all.jsonl")), Path::new("out"));
    assert_eq!(dir_of(Path::new("/all.jsonl")), Path::new("/"));
}
