//! What a batch's journals say about its jobs: the jobs file's identities,
//! and the latest record of each, read from every shard journal. Shared by
//! `status`, `merge` and `slurm resubmit`.
//!
//! Records are matched to jobs by [`Identity`], never by line number, so
//! that a record stays its job's after lines are inserted above it. Only
//! where a record sits is kept in memory (journal, offset, length), not the
//! record itself: a run of millions of jobs would not fit otherwise.

use crate::identity::{Identity, Occurrences, job_hash};
use crate::jobs::JobReader;
use crate::rundir::RunDir;
use crate::shard::{Shard, input_hash};
use anyhow::{Context as _, bail};
use procmap::Status;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// Where the records come from, and which jobs they should cover.
#[derive(Debug)]
pub struct Sources {
    /// The jobs file and its `--task`, when known: without it, jobs that
    /// have no record at all cannot be counted.
    pub jobs: Option<(PathBuf, Option<String>)>,
    pub journals: Vec<Source>,
    /// The run directory, when the sources are one.
    pub run_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The shard the journal holds, from its name; `None`: the whole batch.
    pub shard: Option<Shard>,
}

impl Sources {
    /// `DIR` (a run directory) or `JOURNAL...`; `jobs` and `task` override
    /// or supply the jobs file.
    pub fn from_paths(paths: &[PathBuf], jobs: Option<&Path>, task: Option<&str>) -> anyhow::Result<Sources> {
        let mut sources = Sources { jobs: None, journals: Vec::new(), run_dir: None };
        if let [dir] = paths
            && dir.is_dir()
        {
            let run = RunDir::new(dir);
            let manifest = run.read_manifest()?;
            sources.journals = (0..manifest.shards)
                .map(|index| {
                    let shard = Shard { index, count: manifest.shards };
                    Source { path: run.journal(shard), shard: Some(shard) }
                })
                .collect();
            sources.jobs = Some((manifest.jobs, manifest.task));
            sources.run_dir = Some(dir.clone());
        } else {
            for path in paths {
                if path.is_dir() {
                    bail!("{} is a directory: give one run directory, or journal files", path.display());
                }
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                sources.journals.push(Source { path: path.clone(), shard: Shard::from_journal_name(name) });
            }
        }
        if let Some(jobs) = jobs {
            let task = task.map(str::to_owned).or_else(|| sources.jobs.take().and_then(|(_, t)| t));
            sources.jobs = Some((jobs.to_owned(), task));
        }
        Ok(sources)
    }
}

/// A job of the jobs file.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub line: u64,
    pub id: Identity,
}

/// The latest record of one job, by where it sits.
#[derive(Debug, Clone, Copy)]
pub struct Latest {
    pub status: Status,
    pub journal: u32,
    pub offset: u64,
    pub len: u32,
    pub line: u64,
    pub ms: f64,
    /// How many of the job's records say ok: more than one is work done
    /// twice.
    pub oks: u32,
}

pub struct Ledger {
    pub sources: Sources,
    /// Every job of the jobs file in file order, when it is known.
    pub expected: Option<Vec<Expected>>,
    pub latest: HashMap<Identity, Latest>,
    /// Lines of the journals that are not records (a torn last line).
    pub torn: u64,
    files: Vec<Option<File>>,
}

/// The part of a record the ledger reads. `occurrence` is written only
/// when it is not 0.
#[derive(serde::Deserialize)]
struct Head {
    line: u64,
    task: String,
    args: Vec<String>,
    status: Status,
    #[serde(default)]
    occurrence: Option<u32>,
    #[serde(default)]
    ms: Option<f64>,
}

impl Ledger {
    pub fn load(sources: Sources) -> anyhow::Result<Ledger> {
        let expected = match &sources.jobs {
            Some((path, task)) => Some(read_jobs(path, task.clone()).with_context(|| {
                // run.json names the file as the nodes saw it, which may be
                // another path here (a pod's volume, another mount point).
                "the jobs file tells which jobs have no record yet: name it with --jobs FILE"
            })?),
            None => None,
        };
        let mut ledger = Ledger { sources, expected, latest: HashMap::new(), torn: 0, files: Vec::new() };
        for index in 0..ledger.sources.journals.len() {
            let path = ledger.sources.journals[index].path.clone();
            let file = match File::open(&path) {
                Ok(file) => file,
                // A shard that has not started yet.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    ledger.files.push(None);
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read journal {}", path.display())),
            };
            ledger
                .read_journal(index as u32, &file)
                .with_context(|| format!("cannot read journal {}", path.display()))?;
            ledger.files.push(Some(file));
        }
        Ok(ledger)
    }

    fn read_journal(&mut self, journal: u32, file: &File) -> std::io::Result<()> {
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut buf = Vec::with_capacity(512);
        let mut offset = 0u64;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            let start = offset;
            offset += n as u64;
            if buf.trim_ascii().is_empty() {
                continue;
            }
            let Ok(head) = serde_json::from_slice::<Head>(&buf) else {
                self.torn += 1;
                continue;
            };
            let id =
                Identity { hash: job_hash(&head.task, &head.args), occurrence: head.occurrence.unwrap_or(0) };
            let ok = u32::from(head.status == Status::Ok);
            let latest = Latest {
                status: head.status,
                journal,
                offset: start,
                len: buf.len() as u32,
                line: head.line,
                ms: head.ms.unwrap_or(0.0),
                oks: ok,
            };
            // Journals are appended in time order: a later line is a later
            // attempt.
            self.latest.entry(id).and_modify(|l| *l = Latest { oks: l.oks + ok, ..latest }).or_insert(latest);
        }
    }

    /// The raw JSON line of a record, newline included.
    pub fn raw(&self, latest: &Latest) -> anyhow::Result<Vec<u8>> {
        let source = &self.sources.journals[latest.journal as usize];
        let file = self.files[latest.journal as usize].as_ref().expect("a record comes from an open journal");
        let mut buf = vec![0; latest.len as usize];
        file.read_exact_at(&mut buf, latest.offset)
            .with_context(|| format!("cannot read journal {}", source.path.display()))?;
        Ok(buf)
    }

    /// Which source covers a job: the journal of its shard, or a journal of
    /// the whole batch. `None` when none of the given journals does.
    pub fn source_of(&self, id: &Identity) -> Option<usize> {
        self.sources.journals.iter().position(|s| s.shard.is_none_or(|shard| shard.owns(id)))
    }
}

/// The identity of every job of a jobs file, numbering identical lines as a
/// run does (blank and `#` lines skipped, invalid lines kept).
pub fn read_jobs(path: &Path, task: Option<String>) -> anyhow::Result<Vec<Expected>> {
    let file = File::open(path).with_context(|| format!("cannot read jobs file {}", path.display()))?;
    let mut occurrences = Occurrences::default();
    let mut jobs = Vec::new();
    for input in JobReader::new(BufReader::with_capacity(256 * 1024, file), task) {
        let line = match &input {
            procmap::Input::Job(job) | procmap::Input::Done(job) => job.id,
            procmap::Input::Invalid { id, .. } => *id,
        };
        jobs.push(Expected { line, id: occurrences.next(input_hash(&input)) });
    }
    Ok(jobs)
}
