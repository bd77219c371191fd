//! What a batch's journals say about its jobs: the jobs file's identities,
//! and the latest record of each, read from every shard journal. Shared by
//! `status`, `merge` and `slurm resubmit`.
//!
//! Records are matched to jobs by [`Identity`], never by line number, so
//! that a record stays its job's after lines are inserted above it; records
//! that do not say their occurrence get it as [`crate::occurrence`] rules.
//! Only where a record sits is kept in memory (journal, offset, length),
//! not the record itself: a run of millions of jobs would not fit
//! otherwise.

use crate::identity::{Identity, input_hash, job_hash};
use crate::jobs::JobReader;
use crate::journal::{Line, for_each_line, parse_line};
use crate::occurrence::{Tagged, Written, resolve_tagged};
use crate::rundir::RunDir;
use crate::shard::Shard;
use anyhow::{Context as _, bail};
use procmap::Status;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
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
    /// The line the record names: the job's line when it was written.
    pub line: u64,
    pub occurrence: u32,
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
    /// Records in a shard's journal that belong to another shard: not
    /// counted (copied there by hand, or a journal of another split).
    pub stray: u64,
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
        let mut ledger =
            Ledger { sources, expected: None, latest: HashMap::new(), torn: 0, stray: 0, files: Vec::new() };
        let mut records = Vec::new();
        let mut segment = 0;
        for index in 0..ledger.sources.journals.len() {
            let path = ledger.sources.journals[index].path.clone();
            let in_run_dir = ledger.sources.run_dir.is_some();
            let file = match File::open(&path) {
                Ok(file) => file,
                // A shard of a run directory that has not started yet. A
                // journal named on the command line must exist: a typo
                // would otherwise be a batch with nothing to check.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && in_run_dir => {
                    ledger.files.push(None);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    bail!(
                        "{} does not exist: name a run directory (with run.json) or journals",
                        path.display()
                    )
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read journal {}", path.display())),
            };
            // Each journal is a segment of its own until its first header.
            segment += 1;
            ledger
                .read_journal(index as u32, &file, &mut records, &mut segment)
                .with_context(|| format!("cannot read journal {}", path.display()))?;
            ledger.files.push(Some(file));
        }
        if records.is_empty() && ledger.sources.jobs.is_none() {
            // Nothing to count, and no jobs file to say what is missing:
            // an empty file, or something that is not a journal.
            let names: Vec<String> =
                ledger.sources.journals.iter().map(|s| s.path.display().to_string()).collect();
            let names = names.join(", ");
            match ledger.torn {
                0 => bail!(
                    "{names}: no records, so nothing to report (with --jobs FILE, the jobs without a record are counted)"
                ),
                n => bail!("{names}: no records, and {n} line(s) that are not records: is it a journal?"),
            }
        }
        resolve_tagged(&mut records);
        // `resolve` leaves each job's records in time order: a later line
        // of a journal is a later attempt.
        for r in records {
            let latest = Latest { occurrence: r.occurrence, ..r.item };
            let id = Identity { hash: r.hash, occurrence: r.occurrence };
            let ok = latest.oks;
            ledger
                .latest
                .entry(id)
                .and_modify(|l| *l = Latest { oks: l.oks + ok, ..latest })
                .or_insert(latest);
        }
        if let Some((path, task)) = &ledger.sources.jobs {
            let expected = read_jobs(path, task.clone(), &ledger.latest).with_context(|| {
                // run.json names the file as the nodes saw it, which may be
                // another path here (a pod's volume, another mount point).
                "the jobs file tells which jobs have no record yet: name it with --jobs FILE"
            })?;
            ledger.expected = Some(expected);
        }
        Ok(ledger)
    }

    fn read_journal(
        &mut self,
        journal: u32,
        file: &File,
        records: &mut Vec<Tagged<Latest>>,
        segment: &mut u32,
    ) -> anyhow::Result<()> {
        let shard = self.sources.journals[journal as usize].shard;
        // Format 1 journals (before any header) omitted only occurrence 0.
        let mut format_1 = true;
        for_each_line(file, |raw| -> anyhow::Result<()> {
            let head = match parse_line::<Head>(raw.text)? {
                Line::Header => {
                    format_1 = false;
                    *segment += 1;
                    return Ok(());
                }
                Line::Auto => return Ok(()),
                Line::Unreadable => {
                    self.torn += 1;
                    return Ok(());
                }
                Line::Record(head) => head,
            };
            let hash = job_hash(&head.task, &head.args);
            if shard.is_some_and(|s| !s.owns(hash)) {
                self.stray += 1;
                return Ok(());
            }
            let written = Written::of(head.occurrence, head.line, !format_1);
            let latest = Latest {
                status: head.status,
                journal,
                offset: raw.offset,
                len: raw.len as u32,
                line: head.line,
                occurrence: 0,
                ms: head.ms.unwrap_or(0.0),
                oks: u32::from(head.status == Status::Ok),
            };
            let seq = records.len() as u64;
            records.push(Tagged { hash, seq, segment: *segment, written, occurrence: 0, item: latest });
            Ok(())
        })
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
        self.sources.journals.iter().position(|s| s.shard.is_none_or(|shard| shard.owns(id.hash)))
    }

    /// The record of `latest` as a journal of the whole batch has it: its
    /// line set to `line` (the job's line in the jobs file now, when known)
    /// and its occurrence written, so that the record means the same job
    /// wherever it is read (see [`crate::occurrence`]).
    pub fn record(&self, latest: &Latest, line: Option<u64>) -> anyhow::Result<Vec<u8>> {
        let raw = self.raw(latest)?;
        let line = line.unwrap_or(latest.line);
        Ok(relabel(&raw, line, latest.occurrence).unwrap_or(raw))
    }
}

/// The identity of every job of a jobs file, in file order (blank and `#`
/// lines skipped, invalid lines kept). Occurrences are counted only for the
/// hashes the journals hold: the others have no record whatever their
/// occurrence, so they are given 0.
pub fn read_jobs(
    path: &Path,
    task: Option<String>,
    recorded: &HashMap<Identity, Latest>,
) -> anyhow::Result<Vec<Expected>> {
    let file = File::open(path).with_context(|| format!("cannot read jobs file {}", path.display()))?;
    let mut seen: HashMap<u64, u32> = recorded.keys().map(|id| (id.hash, 0)).collect();
    let mut jobs = Vec::new();
    for input in JobReader::new(BufReader::with_capacity(256 * 1024, file), task) {
        let line = input.id();
        let hash = input_hash(&input);
        let occurrence = seen.get_mut(&hash).map_or(0, |n| {
            *n += 1;
            *n - 1
        });
        jobs.push(Expected { line, id: Identity { hash, occurrence } });
    }
    Ok(jobs)
}

/// `raw` (a record of ours, which starts `{"line":N,` and may go on
/// `"occurrence":K,`) with its line and occurrence replaced; `None` for a
/// record of another shape, which is kept as it is.
fn relabel(raw: &[u8], line: u64, occurrence: u32) -> Option<Vec<u8>> {
    fn skip_number<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let rest = text.strip_prefix(key)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        (digits > 0).then_some(())?;
        rest[digits..].strip_prefix(b",")
    }
    let mut rest = skip_number(raw, b"{\"line\":")?;
    if let Some(after) = skip_number(rest, b"\"occurrence\":") {
        rest = after;
    }
    let mut out = Vec::with_capacity(raw.len() + 20);
    out.extend_from_slice(format!("{{\"line\":{line},").as_bytes());
    if occurrence > 0 {
        out.extend_from_slice(format!("\"occurrence\":{occurrence},").as_bytes());
    }
    out.extend_from_slice(rest);
    Some(out)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod relabel_tests {
    use super::*;

    #[test]
    fn a_record_is_relabelled_with_its_line_and_occurrence() {
        let raw = b"{\"line\":3,\"occurrence\":2,\"task\":\"cube\",\"args\":[],\"status\":\"ok\"}\n";
        let out = relabel(raw, 12, 1).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"line\":12,\"occurrence\":1,\"task\":\"cube\",\"args\":[],\"status\":\"ok\"}\n"
        );
        let out = relabel(b"{\"line\":3,\"task\":\"t\"}", 4, 0).unwrap();
        assert_eq!(out, b"{\"line\":4,\"task\":\"t\"}");
        let out = relabel(b"{\"line\":3,\"task\":\"t\"}", 4, 7).unwrap();
        assert_eq!(out, b"{\"line\":4,\"occurrence\":7,\"task\":\"t\"}");
        assert_eq!(relabel(b"{\"task\":\"t\",\"line\":3}", 4, 0), None, "another shape is kept");
        assert_eq!(relabel(b"{\"line\":,\"task\":\"t\"}", 4, 0), None, "a line without digits too");
    }
}
