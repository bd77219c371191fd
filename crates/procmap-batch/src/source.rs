//! Where a run's jobs come from: opening the jobs file, refusing a journal
//! that is the jobs file itself, and the filters between the reader and the
//! pool (the identity of each job, the jobs a resumed journal has done).

pub use crate::identity::input_hash;
use crate::jobs::JobReader;
use crate::resume::{Decision, Resume};
use crate::shard::Shard;
use anyhow::{Context as _, bail};
use procmap::Input;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// An opened jobs file.
pub struct JobsFile {
    pub reader: Box<dyn BufRead + Send>,
    /// Only a regular file can be read twice: counting the lines of a pipe
    /// for the progress bar would steal them from the run.
    pub regular_file: bool,
}

/// Opens `path`, or stdin for `-`.
pub fn open_jobs(path: &Path) -> anyhow::Result<JobsFile> {
    if path == Path::new("-") {
        return Ok(JobsFile { reader: Box::new(BufReader::new(std::io::stdin())), regular_file: false });
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read jobs file {}", path.display()))?;
    let meta = file.metadata().with_context(|| format!("cannot read jobs file {}", path.display()))?;
    if meta.is_dir() {
        bail!("cannot read jobs file {}: it is a directory", path.display());
    }
    Ok(JobsFile {
        reader: Box::new(BufReader::with_capacity(256 * 1024, file)),
        regular_file: meta.is_file(),
    })
}

/// Refuses a journal that is the jobs file under another name (the same
/// path, a symlink, a hard link, or stdin redirected from it): truncating
/// it would erase the jobs, and appending to it would feed the run its own
/// records forever.
pub fn check_not_aliased(jobs: &Path, journal: &Path) -> anyhow::Result<()> {
    // `-` is stdin for the jobs and stdout for the journal; /dev/stdin and
    // /dev/stdout resolve to whatever those descriptors are open on.
    let jobs_file = if jobs == Path::new("-") { Path::new("/dev/stdin") } else { jobs };
    let journal_file = if journal == Path::new("-") { Path::new("/dev/stdout") } else { journal };
    let file_id =
        |path: &Path| std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| (m.dev(), m.ino()));
    if let (Some(a), Some(b)) = (file_id(jobs_file), file_id(journal_file))
        && a == b
    {
        bail!(
            "the journal ({}) is the jobs file ({}) itself: writing it would destroy the jobs; name another journal with -o",
            journal_file.display(),
            jobs_file.display()
        );
    }
    Ok(())
}

/// Whether two paths name one file (by device and inode: a symlink, a hard
/// link, `sub/../x`). A path that cannot be read names no file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The run's input: every line of the jobs file, hashed once for both
/// filters. Jobs of other shards, and jobs that a resumed journal already
/// has as ok, become [`Input::Done`]: they do not run, but their outputs
/// stay claimed. Jobs whose record failed are dropped under `--resume`.
/// Nothing is remembered per job: only a resume counts the occurrences of
/// the hashes its old journal holds, and tells the journal writer, through
/// its [`crate::resume::Repeats`], those of the jobs that run.
pub fn source(
    reader: JobReader<Box<dyn BufRead + Send>>,
    shard: Option<Shard>,
    mut resume: Option<Resume>,
) -> Box<dyn Iterator<Item = Input> + Send> {
    Box::new(reader.filter_map(move |input| {
        let hash = input_hash(&input);
        if let Some(shard) = &shard
            && !shard.owns(hash)
        {
            return input.into_done();
        }
        if let Some(resume) = &mut resume {
            let line = input.id();
            match resume.admit(hash, line).decision {
                Decision::Run => {}
                // A job done ok still holds on to its outputs.
                Decision::Done => {
                    return input.into_done();
                }
                Decision::Failed => return None,
            }
        }
        Some(input)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::previous::Previous;
    use procmap::wire::Job;
    use std::sync::atomic::Ordering;

    fn reader(text: &str) -> JobReader<Box<dyn BufRead + Send>> {
        JobReader::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), None)
    }

    /// A journal file holding one record per `(line, args, status)`.
    fn previous(dir: &Path, records: &[(u64, &str, &str, u32)]) -> Previous {
        let text =
            String::from("{\"journal\":2,\"writer\":\"t\",\"started_unix\":0,\"host\":\"h\",\"pid\":1}\n");
        let path = dir.join("j.jsonl");
        std::fs::write(&path, text + &records_text(records)).unwrap();
        Previous::load(&path).unwrap()
    }

    fn records_text(records: &[(u64, &str, &str, u32)]) -> String {
        records
            .iter()
            .map(|(line, arg, status, occurrence)| {
                format!(
                    "{{\"line\":{line},\"occurrence\":{occurrence},\"task\":\"cube\",\"args\":[\"{arg}\"],\"status\":\"{status}\",\"attempts\":1}}\n"
                )
            })
            .collect()
    }

    /// Each input as (kind, line).
    fn kinds(inputs: impl Iterator<Item = Input>) -> Vec<(&'static str, u64)> {
        inputs
            .map(|i| match i {
                Input::Job(Job { id, .. }) | Input::Alone(Job { id, .. }) => ("job", id),
                Input::Done(Job { id, .. }) => ("done", id),
                Input::Invalid { id, .. } => ("invalid", id),
            })
            .collect()
    }

    #[test]
    fn resume_skips_ok_jobs_as_done_and_drops_failed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let text = "cube 1\ncube 2\ncube 3\ncube 'x\n";
        for (rerun_failed, expected) in [
            (false, vec![("done", 1), ("job", 3), ("invalid", 4)]),
            (true, vec![("done", 1), ("job", 2), ("job", 3), ("invalid", 4)]),
        ] {
            let resume =
                Resume::new(previous(dir.path(), &[(1, "1", "ok", 0), (2, "2", "error", 0)]), rerun_failed);
            let skipped = resume.skipped();
            let got = kinds(source(reader(text), None, Some(resume)));
            assert_eq!(got, expected, "rerun_failed {rerun_failed}");
            let expected_skips = if rerun_failed { 1 } else { 2 };
            assert_eq!(skipped.load(Ordering::Relaxed), expected_skips);
        }
    }

    #[test]
    fn repeated_lines_are_told_apart_by_occurrence() {
        let dir = tempfile::tempdir().unwrap();
        // The journal has the second `cube 2` (occurrence 1) only.
        let resume = Resume::new(previous(dir.path(), &[(3, "2", "ok", 1)]), false);
        let repeats = resume.repeats();
        let got = kinds(source(reader("cube 1\ncube 2\ncube 2\ncube 2\n"), None, Some(resume)));
        assert_eq!(got, [("job", 1), ("job", 2), ("done", 3), ("job", 4)]);
        // The journal writer learns the occurrence of line 4, once.
        assert_eq!(repeats.take(4), 2);
        assert_eq!(repeats.take(4), 0);
        assert_eq!(repeats.take(2), 0, "a first occurrence is not written");
        assert_eq!(repeats.take(3), 0, "a done job gets no record");
    }

    #[test]
    fn without_repeats_nothing_is_recorded() {
        // A resume whose journal holds no repeated job learns no occurrence
        // above 0: the writer's map stays empty, and is never locked.
        let dir = tempfile::tempdir().unwrap();
        let resume = Resume::new(previous(dir.path(), &[(1, "1", "ok", 0)]), false);
        let repeats = resume.repeats();
        let _ = kinds(source(reader("cube 1\ncube 2\n"), None, Some(resume)));
        assert!(repeats.is_empty());
        assert_eq!(repeats.take(1), 0);
    }

    #[test]
    fn another_shard_s_jobs_pass_as_done_and_its_invalid_lines_vanish() {
        let text: String = (1..=40).map(|i| format!("cube {i}\n")).chain(["cube 'x\n".to_owned()]).collect();
        let shard = Shard::new(0, 2).unwrap();
        let other = Shard::new(1, 2).unwrap();
        let mine = kinds(source(reader(&text), Some(shard), None));
        let theirs = kinds(source(reader(&text), Some(other), None));
        assert_eq!(mine.len() + theirs.len(), 41 + 40, "every job is on both sides, the invalid line on one");
        for line in 1..=40 {
            let a = mine.iter().find(|(_, l)| *l == line).unwrap().0;
            let b = theirs.iter().find(|(_, l)| *l == line).unwrap().0;
            assert!(matches!((a, b), ("job", "done") | ("done", "job")), "line {line}: {a} {b}");
        }
        let invalid = mine.iter().chain(&theirs).filter(|(k, _)| *k == "invalid").count();
        assert_eq!(invalid, 1);
    }

    #[test]
    fn the_jobs_file_is_refused_as_its_own_journal_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = dir.path().join("jobs.txt");
        std::fs::write(&jobs, "cube 1\n").unwrap();
        std::fs::hard_link(&jobs, dir.path().join("hard.txt")).unwrap();
        std::fs::write(dir.path().join("other.txt"), "cube 1\n").unwrap();
        assert!(check_not_aliased(&jobs, &jobs).is_err());
        assert!(check_not_aliased(&jobs, &dir.path().join("hard.txt")).is_err());
        assert!(check_not_aliased(&jobs, &dir.path().join("other.txt")).is_ok());
        assert!(check_not_aliased(&jobs, &dir.path().join("new.jsonl")).is_ok(), "a journal yet to be made");
        assert!(check_not_aliased(&jobs, Path::new("/dev/null")).is_ok(), "not a regular file");
    }

    #[test]
    fn a_directory_is_not_a_jobs_file_and_stdin_cannot_be_counted() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_jobs(dir.path()).err().expect("a directory is refused");
        assert!(err.to_string().contains("it is a directory"), "{err}");
        assert!(!open_jobs(Path::new("-")).unwrap().regular_file);
        let file = dir.path().join("jobs.txt");
        std::fs::write(&file, "cube 1\n").unwrap();
        assert!(open_jobs(&file).unwrap().regular_file);
    }
}
