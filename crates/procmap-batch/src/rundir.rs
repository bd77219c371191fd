//! A run directory: one batch split into shards, each with its own journal.
//!
//! ```text
//! DIR/run.json                          what the batch is: jobs file, --task, shard count
//! DIR/journal/shard-0003-of-0016.jsonl  shard 3's journal, written only by shard 3
//! DIR/batch.sh, DIR/logs/               `supervisor slurm submit`'s script and its output
//! ```
//!
//! Shards never append to a shared file: file locks on network filesystems
//! cannot be trusted, so each journal has exactly one writer, locked as any
//! journal is. `run.json` is written once, by whoever comes first, and every
//! later shard checks that it belongs to the same batch.

use crate::shard::Shard;
use crate::source::same_file;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "run.json";
pub const JOURNALS: &str = "journal";
pub const SCRIPT: &str = "batch.sh";
pub const LOGS: &str = "logs";

/// The `run.json` format this version writes and reads. Format 1 (no
/// `format` key) shards identical lines by their occurrence too, so its
/// shards cannot be finished or counted by this version.
pub const FORMAT: u32 = 2;

/// `run.json`: what status, merge and resubmit need to know about a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`]; absent in format 1.
    #[serde(default = "format_1")]
    pub format: u32,
    /// The jobs file, absolute.
    pub jobs: PathBuf,
    /// `--task`: every line holds only this task's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub shards: u32,
    /// Set by `slurm submit`, for `slurm resubmit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmPlan>,
}

/// How `slurm submit` ran the batch, so that `resubmit` does it again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlurmPlan {
    pub cpus_per_task: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<u32>,
    /// Extra sbatch options, after `--` on the submit command line.
    #[serde(default)]
    pub sbatch: Vec<String>,
}

fn format_1() -> u32 {
    1
}

impl Manifest {
    pub fn new(jobs: PathBuf, task: Option<String>, shards: u32) -> Manifest {
        Manifest { format: FORMAT, jobs, task, shards, slurm: None }
    }
}

pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.path.join(MANIFEST)
    }

    /// `slurm submit`'s batch script.
    pub fn script(&self) -> PathBuf {
        self.path.join(SCRIPT)
    }

    /// Where the array tasks' logs go.
    pub fn logs(&self) -> PathBuf {
        self.path.join(LOGS)
    }

    /// sbatch's `--output` pattern for the array tasks' logs: one per shard
    /// and job, as `shard-0003-job-1234.log`.
    pub fn log_pattern(&self) -> PathBuf {
        self.logs().join("shard-%4a-job-%A.log")
    }

    pub fn journal(&self, shard: Shard) -> PathBuf {
        self.path.join(JOURNALS).join(shard.journal_name())
    }

    pub fn read_manifest(&self) -> Result<Manifest, RunDirError> {
        let path = self.manifest_path();
        let text = std::fs::read_to_string(&path).map_err(|source| RunDirError::Read {
            path: path.clone(),
            dir: self.path.clone(),
            source,
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|source| RunDirError::Parse { path: path.clone(), source })?;
        match manifest.format {
            FORMAT if (1..=crate::shard::MAX_SHARDS).contains(&manifest.shards) => Ok(manifest),
            FORMAT => Err(RunDirError::Shards { path, shards: manifest.shards }),
            1 => Err(RunDirError::Older { path }),
            found => Err(RunDirError::Newer { path, found }),
        }
    }

    /// Writes `run.json` for a new batch; refuses a directory that already
    /// holds one.
    pub fn create(&self, manifest: &Manifest) -> Result<(), RunDirError> {
        std::fs::create_dir_all(self.path.join(JOURNALS))
            .map_err(|source| RunDirError::Create { dir: self.path.clone(), source })?;
        match self.publish(manifest)? {
            true => Ok(()),
            false => Err(RunDirError::Taken { dir: self.path.clone() }),
        }
    }

    /// For a shard about to run: writes `run.json` if no shard has yet, or
    /// checks that the one there describes the same batch. Mixing two
    /// splits of a file in one directory would make status count nonsense.
    pub fn join(&self, manifest: &Manifest) -> Result<(), RunDirError> {
        std::fs::create_dir_all(self.path.join(JOURNALS))
            .map_err(|source| RunDirError::Create { dir: self.path.clone(), source })?;
        if self.publish(manifest)? {
            return Ok(());
        }
        let theirs = self.read_settled(manifest)?;
        // The batch is the file, not its spelling (`sub/../jobs.txt`, a symlink).
        let same_jobs = theirs.jobs == manifest.jobs || same_file(&theirs.jobs, &manifest.jobs);
        if !same_jobs || (&theirs.task, theirs.shards) != (&manifest.task, manifest.shards) {
            return Err(RunDirError::OtherBatch {
                dir: self.path.clone(),
                theirs: describe(&theirs),
                ours: describe(manifest),
            });
        }
        Ok(())
    }

    /// The `run.json` another shard wrote. One that is empty is waited for
    /// a moment (a writer on a filesystem without hard links may be
    /// halfway), then taken for the leftover of a writer that died (a full
    /// disk, before this version wrote atomically) and replaced by ours.
    fn read_settled(&self, ours: &Manifest) -> Result<Manifest, RunDirError> {
        let path = self.manifest_path();
        let empty = || std::fs::metadata(&path).is_ok_and(|m| m.len() == 0);
        for _ in 0..20 {
            if !empty() {
                return self.read_manifest();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let tmp = self.written_whole(ours)?;
        tmp.persist(&path).map_err(|e| RunDirError::Write { path: path.clone(), source: e.error })?;
        self.read_manifest()
    }

    /// `manifest` in a synced temporary file beside `run.json`.
    fn written_whole(&self, manifest: &Manifest) -> Result<tempfile::NamedTempFile, RunDirError> {
        use std::io::Write as _;
        let path = self.manifest_path();
        let mut tmp = tempfile::Builder::new()
            .prefix(".run.json.")
            .tempfile_in(&self.path)
            .map_err(|source| RunDirError::Write { path: path.clone(), source })?;
        tmp.write_all(pretty(manifest).as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|source| RunDirError::Write { path, source })?;
        Ok(tmp)
    }

    /// Makes `manifest` the directory's `run.json` unless it has one;
    /// returns whether it did. Shards of a Kubernetes Job or of GNU
    /// parallel start at the same moment, and a full disk can stop a write
    /// halfway: `run.json` is written whole to a file of this process's
    /// own, synced, then linked into place, which fails if another
    /// process got there first. No reader ever sees a partial `run.json`.
    fn publish(&self, manifest: &Manifest) -> Result<bool, RunDirError> {
        let path = self.manifest_path();
        let tmp = self.written_whole(manifest)?;
        // The temporary file is removed when `tmp` drops.
        placed(std::fs::hard_link(tmp.path(), &path), || create_exclusive(&path, manifest))
    }
}

/// Whether `run.json` is ours, from how linking our copy into place went:
/// linked, it is; there already, it is another's. A filesystem without
/// hard links gets `fallback` instead.
fn placed(
    linked: std::io::Result<()>,
    fallback: impl FnOnce() -> Result<bool, RunDirError>,
) -> Result<bool, RunDirError> {
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => fallback(),
    }
}

/// Writes `manifest` to `path` unless it exists (then `false`): an
/// exclusive create, which another shard may read half-written
/// (read_manifest then fails, and that shard says why).
fn create_exclusive(path: &Path, manifest: &Manifest) -> Result<bool, RunDirError> {
    use std::io::Write as _;
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => file
            .write_all(pretty(manifest).as_bytes())
            .and_then(|()| file.sync_all())
            .map(|()| true)
            .map_err(|source| RunDirError::Write { path: path.to_owned(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(RunDirError::Write { path: path.to_owned(), source }),
    }
}

/// Why a run directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("cannot read {}: is {} a run directory?", path.display(), dir.display())]
    Read {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} was written by an older supervisor (run.json format 1), which assigned identical lines to \
         shards differently: finish that batch with the version that started it, or start a new run directory",
        path.display()
    )]
    Older { path: PathBuf },
    #[error("{} was written by a newer supervisor (run.json format {found}); this one reads format {FORMAT}", path.display())]
    Newer { path: PathBuf, found: u32 },
    #[error(
        "{} already holds a run: pick another --run-dir, or `supervisor slurm resubmit {}` to finish it",
        dir.display(),
        dir.display()
    )]
    Taken { dir: PathBuf },
    #[error("cannot create run directory {}", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run directory {} belongs to another batch ({theirs}); this one is {ours}", dir.display())]
    OtherBatch { dir: PathBuf, theirs: String, ours: String },
    #[error("{} names {shards} shards: a batch has 1 to {} shards", path.display(), crate::shard::MAX_SHARDS)]
    Shards { path: PathBuf, shards: u32 },
    #[error("cannot resolve {}", path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `jobs.txt in 4 shards, --task cube`, for a message.
fn describe(m: &Manifest) -> String {
    let task = m.task.as_ref().map(|t| format!(", --task {t}")).unwrap_or_default();
    format!("{} in {} shards{task}", m.jobs.display(), m.shards)
}

fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("a manifest serializes") + "\n"
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RunDirError> {
    std::fs::write(path, pretty(value)).map_err(|source| RunDirError::Write { path: path.to_owned(), source })
}

/// A path made absolute against the current directory, without resolving
/// symlinks: array tasks start elsewhere, and a path through a symlink the
/// user chose should stay that path.
pub fn absolute(path: &Path) -> Result<PathBuf, RunDirError> {
    std::path::absolute(path).map_err(|source| RunDirError::Resolve { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(shards: u32) -> Manifest {
        Manifest::new("/data/jobs.txt".into(), None, shards)
    }

    #[test]
    fn an_older_or_newer_run_json_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        std::fs::write(run.manifest_path(), r#"{"jobs":"/data/jobs.txt","shards":2}"#).unwrap();
        let err = format!("{:#}", run.read_manifest().unwrap_err());
        assert!(err.contains("older supervisor (run.json format 1)"), "{err}");
        std::fs::write(run.manifest_path(), r#"{"format":3,"jobs":"/data/jobs.txt","shards":2}"#).unwrap();
        let err = format!("{:#}", run.read_manifest().unwrap_err());
        assert!(err.contains("newer supervisor (run.json format 3)"), "{err}");
        let err = run.join(&manifest(2)).unwrap_err().to_string();
        assert!(err.contains("newer supervisor"), "a shard does not join it either: {err}");
    }

    #[test]
    fn the_files_of_a_run_directory_have_fixed_names() {
        let run = RunDir::new("/r");
        assert_eq!(run.manifest_path(), Path::new("/r/run.json"));
        assert_eq!(run.script(), Path::new("/r/batch.sh"));
        assert_eq!(run.logs(), Path::new("/r/logs"));
        assert_eq!(run.log_pattern(), Path::new("/r/logs/shard-%4a-job-%A.log"));
        assert_eq!(
            run.journal(Shard { index: 3, count: 16 }),
            Path::new("/r/journal/shard-0003-of-0016.jsonl")
        );
        assert_eq!(absolute(Path::new("/a/./b")).unwrap(), Path::new("/a/b"));
        assert!(absolute(Path::new("rel")).unwrap().is_absolute());
    }

    #[test]
    fn a_run_json_that_is_missing_unparsable_or_of_no_shards_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let err = format!("{}", run.read_manifest().unwrap_err());
        assert!(err.contains("run.json: is") && err.contains("a run directory?"), "{err}");
        std::fs::write(run.manifest_path(), "{").unwrap();
        assert!(matches!(run.read_manifest(), Err(RunDirError::Parse { .. })));
        for (shards, ok) in
            [(0, false), (1, true), (crate::shard::MAX_SHARDS, true), (crate::shard::MAX_SHARDS + 1, false)]
        {
            write_json(&run.manifest_path(), &manifest(shards)).unwrap();
            match run.read_manifest() {
                Ok(m) => assert!(ok && m == manifest(shards), "{shards} shards"),
                Err(e) => {
                    assert!(!ok, "{shards} shards: {e}");
                    assert!(e.to_string().contains(&format!("names {shards} shards")), "{e}");
                }
            }
        }
    }

    #[test]
    fn another_spelling_of_the_same_jobs_file_is_the_same_batch_but_another_task_is_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let jobs = dir.path().join("jobs.txt");
        std::fs::write(&jobs, "cube 1\n").unwrap();
        let run = RunDir::new(dir.path().join("run"));
        run.join(&Manifest::new(jobs.clone(), Some("cube".into()), 2)).unwrap();
        let spelled = dir.path().join("sub/../jobs.txt");
        run.join(&Manifest::new(spelled, Some("cube".into()), 2)).unwrap();
        let err = run.join(&Manifest::new(jobs.clone(), None, 2)).unwrap_err().to_string();
        assert!(err.contains("jobs.txt in 2 shards, --task cube); this one is"), "{err}");
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "cube 1\n").unwrap();
        let err = run.join(&Manifest::new(other, Some("cube".into()), 2)).unwrap_err();
        assert!(matches!(err, RunDirError::OtherBatch { .. }), "{err}");
    }

    #[test]
    fn an_empty_run_json_left_by_a_dead_writer_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        std::fs::create_dir_all(dir.path().join(JOURNALS)).unwrap();
        std::fs::write(run.manifest_path(), "").unwrap();
        run.join(&manifest(3)).unwrap();
        assert_eq!(run.read_manifest().unwrap(), manifest(3));
        let text = std::fs::read_to_string(run.manifest_path()).unwrap();
        assert!(text.ends_with("}\n") && text.contains("\n  \"shards\": 3"), "pretty, whole: {text}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn run_json_is_ours_if_linked_anothers_if_there_and_else_created_exclusively() {
        use std::io::{Error, ErrorKind};
        let never = || -> Result<bool, RunDirError> { panic!("no fallback when linking answered") };
        assert!(placed(Ok(()), never).unwrap());
        assert!(!placed(Err(Error::from(ErrorKind::AlreadyExists)), never).unwrap());
        let no_links = || Err(Error::from(ErrorKind::PermissionDenied));
        assert!(placed(no_links(), || Ok(true)).unwrap());
        assert!(!placed(no_links(), || Ok(false)).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        assert!(create_exclusive(&path, &manifest(2)).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), pretty(&manifest(2)));
        assert!(!create_exclusive(&path, &manifest(3)).unwrap(), "there already: another's");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), pretty(&manifest(2)));
        let err = create_exclusive(&dir.path().join("no/run.json"), &manifest(2)).unwrap_err();
        assert!(matches!(err, RunDirError::Write { .. }), "{err}");
    }

    #[test]
    fn the_first_shard_writes_run_json_and_the_others_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        run.join(&manifest(4)).unwrap();
        run.join(&manifest(4)).unwrap();
        let err = run.join(&manifest(8)).unwrap_err().to_string();
        assert!(err.contains("belongs to another batch"), "{err}");
        assert_eq!(run.read_manifest().unwrap(), manifest(4));
        assert!(run.create(&manifest(4)).unwrap_err().to_string().contains("already holds a run"));
    }
}
