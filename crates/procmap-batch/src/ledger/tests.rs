//! The ledger on real files: which record is a job's, what counts as torn
//! or stray, and what the sources are.

use super::*;
use crate::identity::shard_of;
use crate::rundir::Manifest;

const HEADER: &str = "{\"journal\":2,\"writer\":\"test\",\"started_unix\":1.0,\"host\":\"h\",\"pid\":1}\n";

fn record(line: u64, x: &str, status: &str, ms: f64) -> String {
    format!(
        "{{\"line\":{line},\"task\":\"cube\",\"args\":[\"{x}\"],\"status\":\"{status}\",\"attempts\":1,\"ms\":{ms}}}\n"
    )
}

fn id(x: &str, occurrence: u32) -> Identity {
    Identity { hash: job_hash("cube", &[x.to_owned()]), occurrence }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn load(paths: &[PathBuf], jobs: Option<&Path>) -> anyhow::Result<Ledger> {
    Ledger::load(Sources::from_paths(paths, jobs, Some("cube"))?)
}

#[test]
fn a_jobs_latest_record_wins_and_its_oks_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let text = [
        HEADER.to_owned(),
        record(1, "1", "error", 1.0),
        record(2, "2", "ok", 2.0),
        record(1, "1", "ok", 3.0),
        record(1, "1", "ok", 4.0),
        record(3, "3", "ok", 5.0),
        record(3, "3", "crashed", 6.0),
    ]
    .concat();
    let j = write(dir.path(), "j.jsonl", &text);
    let ledger = load(std::slice::from_ref(&j), None).unwrap();
    assert_eq!(ledger.latest.len(), 3);
    let one = ledger.latest[&id("1", 0)];
    assert_eq!((one.status, one.oks, one.ms), (Status::Ok, 2, 4.0));
    let three = ledger.latest[&id("3", 0)];
    assert_eq!((three.status, three.oks, three.line), (Status::Crashed, 1, 3));
    assert_eq!(ledger.latest[&id("2", 0)].oks, 1);
    assert_eq!((ledger.torn, ledger.stray), (0, 0));
    assert!(ledger.expected.is_none());
    // Where it sits: the raw line, byte for byte, and relabelled.
    assert_eq!(ledger.raw(&three).unwrap(), record(3, "3", "crashed", 6.0).as_bytes());
    let moved = String::from_utf8(ledger.record(&three, Some(9)).unwrap()).unwrap();
    assert_eq!(moved, record(9, "3", "crashed", 6.0));
    let kept = String::from_utf8(ledger.record(&three, None).unwrap()).unwrap();
    assert_eq!(kept, record(3, "3", "crashed", 6.0));
}

#[test]
fn the_jobs_file_gives_every_job_its_line_and_occurrence() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = write(dir.path(), "jobs.txt", "1\n\n# note\n2\n1\n7\n1\n");
    let text = [HEADER.to_owned(), record(5, "1", "ok", 1.0), record(1, "1", "ok", 1.0)].concat();
    let j = write(dir.path(), "j.jsonl", &text);
    let ledger = load(&[j], Some(&jobs)).unwrap();
    let expected: Vec<(u64, Identity)> = ledger.expected.unwrap().iter().map(|e| (e.line, e.id)).collect();
    // "1" has records, so its repeats are counted; "2" and "7" have none,
    // so each is occurrence 0.
    assert_eq!(
        expected,
        [(1, id("1", 0)), (4, id("2", 0)), (5, id("1", 1)), (6, id("7", 0)), (7, id("1", 2))]
    );
    // The two records of one segment rank by line: lines 1 and 5.
    assert_eq!(ledger.latest[&id("1", 0)].line, 1);
    assert_eq!(ledger.latest[&id("1", 1)].line, 5);
    assert_eq!(ledger.latest[&id("1", 1)].occurrence, 1);
}

#[test]
fn unreadable_lines_are_torn_and_a_file_of_them_is_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let j = write(
        dir.path(),
        "j.jsonl",
        &[HEADER, &record(1, "1", "ok", 1.0), "not json\n{\"line\":2,"].concat(),
    );
    let ledger = load(std::slice::from_ref(&j), None).unwrap();
    assert_eq!((ledger.torn, ledger.latest.len()), (2, 1));

    let junk = write(dir.path(), "jobs.jsonl", "cube 1\ncube 2\n");
    let err = format!("{:#}", load(&[junk], None).err().unwrap());
    assert!(err.contains("no records, and 2 line(s) that are not records"), "{err}");
    let empty = write(dir.path(), "empty.jsonl", "");
    let err = format!("{:#}", load(std::slice::from_ref(&empty), None).err().unwrap());
    assert!(err.contains("no records, so nothing to report"), "{err}");
    // With a jobs file, an empty journal is a batch with nothing done.
    let jobs = write(dir.path(), "jobs.txt", "1\n");
    let ledger = load(&[empty], Some(&jobs)).unwrap();
    assert_eq!(ledger.expected.unwrap().len(), 1);
}

#[test]
fn a_journal_named_on_the_command_line_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let err = format!("{:#}", load(&[dir.path().join("typo.jsonl")], None).err().unwrap());
    assert!(err.contains("typo.jsonl does not exist"), "{err}");
    let a = write(dir.path(), "a.jsonl", &[HEADER, &record(1, "1", "ok", 1.0)].concat());
    let err = format!("{:#}", load(&[a, dir.path().to_owned()], None).err().unwrap());
    assert!(err.contains("is a directory: give one run directory"), "{err}");
}

/// A run directory of 2 shards; shard `unstarted` has no journal yet.
fn run_dir(dir: &Path, jobs_text: &str, records: &[(&str, &str)], unstarted: u32) -> (PathBuf, PathBuf) {
    let jobs = write(dir, "jobs.txt", jobs_text);
    let run = RunDir::new(dir.join("run"));
    run.create(&Manifest::new(jobs.clone(), Some("cube".into()), 2)).unwrap();
    for index in (0..2).filter(|i| *i != unstarted) {
        let shard = Shard { index, count: 2 };
        let mut text = HEADER.to_owned();
        for (n, (x, status)) in records.iter().enumerate() {
            if shard.owns(job_hash("cube", &[x.to_string()])) {
                text += &record(n as u64 + 1, x, status, 1.0);
            }
        }
        std::fs::write(run.journal(shard), text).unwrap();
    }
    (run.path, jobs)
}

#[test]
fn a_run_directory_names_its_shards_journals_and_jobs_file() {
    let dir = tempfile::tempdir().unwrap();
    let xs = ["1", "2", "3", "4", "5", "6"];
    let in_1 = xs.iter().find(|x| shard_of(job_hash("cube", &[x.to_string()]), 2) == 1).unwrap();
    let records: Vec<(&str, &str)> = xs.iter().map(|x| (*x, "ok")).collect();
    let (run, jobs) = run_dir(dir.path(), "1\n2\n3\n4\n5\n6\n", &records, 1);
    let sources = Sources::from_paths(std::slice::from_ref(&run), None, None).unwrap();
    assert_eq!(sources.run_dir.as_deref(), Some(run.as_path()));
    assert_eq!(sources.jobs, Some((jobs.clone(), Some("cube".to_owned()))));
    let shards: Vec<Option<Shard>> = sources.journals.iter().map(|s| s.shard).collect();
    assert_eq!(shards, [Some(Shard { index: 0, count: 2 }), Some(Shard { index: 1, count: 2 })]);
    assert!(sources.journals[1].path.ends_with("journal/shard-0001-of-0002.jsonl"));
    // Shard 1 has not started: its journal is missing, which is no error.
    let ledger = Ledger::load(sources).unwrap();
    assert!(!ledger.latest.contains_key(&id(in_1, 0)));
    assert_eq!(ledger.source_of(&id(in_1, 0)), Some(1));
    assert_eq!(ledger.expected.as_ref().unwrap().len(), 6);
    // --jobs and --task override the run directory's.
    let other = write(dir.path(), "other.txt", "cube 9\n");
    let sources = Sources::from_paths(std::slice::from_ref(&run), Some(&other), None).unwrap();
    assert_eq!(sources.jobs, Some((other.clone(), Some("cube".to_owned()))), "the manifest's --task stays");
    let sources = Sources::from_paths(&[run], Some(&other), Some("noop")).unwrap();
    assert_eq!(sources.jobs, Some((other, Some("noop".to_owned()))));
}

#[test]
fn a_record_in_the_wrong_shards_journal_is_stray() {
    let dir = tempfile::tempdir().unwrap();
    let xs = ["1", "2", "3", "4", "5", "6"];
    let in_0 = xs.iter().find(|x| shard_of(job_hash("cube", &[x.to_string()]), 2) == 0).unwrap();
    let (run, _) = run_dir(dir.path(), "1\n2\n3\n4\n5\n6\n", &[], 9);
    // Shard 0's record copied into shard 1's journal.
    let wrong = RunDir::new(&run).journal(Shard { index: 1, count: 2 });
    std::fs::write(&wrong, [HEADER, &record(1, in_0, "ok", 1.0)].concat()).unwrap();
    let ledger = Ledger::load(Sources::from_paths(&[run], None, None).unwrap()).unwrap();
    assert_eq!((ledger.stray, ledger.latest.len()), (1, 0));
    // A journal of the whole batch covers every job.
    let whole = write(dir.path(), "all.jsonl", &[HEADER, &record(1, in_0, "ok", 1.0)].concat());
    let ledger = load(&[whole], None).unwrap();
    assert_eq!((ledger.stray, ledger.source_of(&id(in_0, 0))), (0, Some(0)));
    // A shard's journal named on the command line is that shard's: it
    // covers no job of shard 0, and a stray record is no record.
    let named =
        write(dir.path(), "shard-0001-of-0002.jsonl", &[HEADER, &record(1, in_0, "ok", 1.0)].concat());
    let err = format!("{:#}", load(std::slice::from_ref(&named), None).err().unwrap());
    assert!(err.contains("no records"), "{err}");
    let jobs = write(dir.path(), "jobs.txt", "1\n");
    let ledger = load(&[named], Some(&jobs)).unwrap();
    assert_eq!((ledger.stray, ledger.source_of(&id(in_0, 0))), (1, None));
}

#[test]
fn records_before_any_header_are_of_format_1() {
    // Format 1 wrote `occurrence` for every repeat and omitted it only for
    // 0; a later segment leaves it out for records it did not number.
    let dir = tempfile::tempdir().unwrap();
    let text = [record(4, "1", "ok", 1.0), record(2, "1", "ok", 1.0)].concat();
    let j = write(dir.path(), "old.jsonl", &text);
    let ledger = load(&[j], None).unwrap();
    // Both say nothing, so both are occurrence 0: the later wins, and the
    // job was done twice.
    assert_eq!(ledger.latest.len(), 1);
    assert_eq!((ledger.latest[&id("1", 0)].line, ledger.latest[&id("1", 0)].oks), (2, 2));
    let j = write(dir.path(), "new.jsonl", &[HEADER, &text].concat());
    let ledger = load(&[j], None).unwrap();
    assert_eq!(ledger.latest.len(), 2, "in a segment, records without occurrence rank by line");
}

#[test]
fn a_journal_that_cannot_be_read_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let j = write(dir.path(), "j.jsonl", &[HEADER, &record(1, "1", "ok", 1.0)].concat());
    let jobs = dir.path().join("gone.txt");
    let err = format!("{:#}", load(&[j], Some(&jobs)).err().unwrap());
    assert!(err.contains("name it with --jobs FILE") && err.contains("gone.txt"), "{err}");
}

#[test]
fn a_shard_journal_that_exists_but_cannot_be_opened_is_an_error_not_a_shard_to_come() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = run_dir(dir.path(), "1\n2\n", &[("1", "ok"), ("2", "ok")], 1);
    // A symlink to itself: open fails with ELOOP, even for root.
    let journal = RunDir::new(&run).journal(Shard { index: 1, count: 2 });
    std::os::unix::fs::symlink(&journal, &journal).unwrap();
    let err = format!("{:#}", Ledger::load(Sources::from_paths(&[run], None, None).unwrap()).err().unwrap());
    assert!(err.contains("cannot read journal") && err.contains("shard-0001-of-0002.jsonl"), "{err}");
}

#[test]
fn each_run_appended_to_a_journal_numbers_its_own_repeats() {
    // Two segments (a run, then its resume), each with one record of "1"
    // that says no occurrence: each is that segment's occurrence 0, the
    // same job, done twice. Taken as one segment, they would rank by line
    // as occurrences 0 and 1.
    let dir = tempfile::tempdir().unwrap();
    let text = [HEADER, &record(2, "1", "ok", 1.0), HEADER, &record(1, "1", "ok", 1.0)].concat();
    let j = write(dir.path(), "j.jsonl", &text);
    let ledger = load(&[j], None).unwrap();
    assert_eq!(ledger.latest.len(), 1, "{:?}", ledger.latest);
    assert_eq!((ledger.latest[&id("1", 0)].line, ledger.latest[&id("1", 0)].oks), (1, 2));
}
