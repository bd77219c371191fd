//! What an old journal says, for a resumed run: the latest status of every
//! job it records, in 16 bytes a record.
//!
//! The records are read once, their occurrences resolved
//! ([`crate::occurrence`]), and one entry kept per job, sorted by hash. A
//! resumed run then asks, for each line of the jobs file in order, what the
//! journal knows of it ([`Previous::next`]): only hashes the journal holds
//! get their occurrences counted, and the counter lives in the entry
//! itself, so a resume holds nothing per job beyond what the old journal
//! says.

use crate::identity::job_hash_of;
use crate::journal::{Line, NewerFormat, for_each_line, parse_line};
use crate::occurrence::{Recorded, Written, resolve};
use procmap::Status;
use serde::Deserialize;
use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::path::Path;

/// Why an old journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PreviousError {
    #[error("cannot read the journal")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Newer(#[from] NewerFormat),
    #[error("the journal is too large to resume: {what} (at most {LOW} are supported)")]
    TooLarge { what: String },
}

/// One job of the old journal. Packed, because a resume of 10M jobs holds
/// 10M of them.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    /// While loading: the line, with [`LINE`] set, or the occurrence; once
    /// resolved, the occurrence.
    key: u32,
    /// The status in the top two bits. Below them, while loading, the
    /// record's position in the journal (its time); once loaded, in the
    /// first entry of each hash, how many lines of that hash the resumed
    /// run has seen so far.
    aux: u32,
}

const LINE: u32 = 1 << 31;
const LOW: u32 = (1 << 30) - 1;

fn status_bits(status: Status) -> u32 {
    (match status {
        Status::Ok => 0,
        Status::Error => 1,
        Status::Crashed => 2,
        Status::Timeout => 3,
    }) << 30
}

fn status_of(aux: u32) -> Status {
    [Status::Ok, Status::Error, Status::Crashed, Status::Timeout][(aux >> 30) as usize]
}

impl Recorded for Entry {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn seq(&self) -> u64 {
        u64::from(self.aux & LOW)
    }
    fn written(&self) -> Written {
        if self.key & LINE != 0 {
            Written::Line(u64::from(self.key & !LINE))
        } else {
            Written::Occurrence(self.key)
        }
    }
    fn set_occurrence(&mut self, occurrence: u32) {
        self.key = occurrence.min(LINE - 1);
    }
}

/// The latest status of every job of an old journal.
#[derive(Debug, Default)]
pub struct Previous {
    /// One per job, sorted by (hash, occurrence).
    entries: Vec<Entry>,
    /// `entries[index[b]..index[b + 1]]` are those whose hash's top `bits`
    /// bits are `b`: a lookup is a search among a handful.
    index: Vec<u32>,
    bits: u32,
    /// Lines that are not records: a torn last line, foreign text.
    pub torn_lines: usize,
}

/// The part of a record a resume reads.
#[derive(Deserialize)]
struct Key<'a> {
    line: u64,
    #[serde(borrow)]
    task: Cow<'a, str>,
    #[serde(borrow)]
    args: Vec<Cow<'a, str>>,
    #[serde(default)]
    occurrence: Option<u32>,
    status: Status,
}

impl Previous {
    /// Reads the journal at `path`; a journal that does not exist has
    /// nothing done.
    pub fn load(path: &Path) -> Result<Previous, PreviousError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Previous::default()),
            Err(e) => return Err(PreviousError::Io(e)),
        };
        let len = file.metadata().map_err(PreviousError::Io)?.len();
        let mut entries: Vec<Entry> = Vec::new();
        // A record takes at least 48 bytes: reserving for that many never
        // regrows (a copy of everything, twice the memory for a moment),
        // and the pages never filled are never touched, so cost nothing.
        entries.reserve_exact(usize::try_from(len / 48).unwrap_or(0).min(1 << 31));
        // Where each run's segment starts (see crate::occurrence).
        let mut segments: Vec<u64> = Vec::new();
        let mut torn_lines = 0;
        for_each_line(file, |raw| -> Result<(), PreviousError> {
            let key = match parse_line::<Key>(raw.text)? {
                Line::Header => {
                    segments.push(entries.len() as u64);
                    return Ok(());
                }
                Line::Auto => return Ok(()),
                Line::Unreadable => {
                    torn_lines += 1;
                    return Ok(());
                }
                Line::Record(key) => key,
            };
            let seq = u32::try_from(entries.len()).ok().filter(|&s| s <= LOW);
            let Some(seq) = seq else {
                return Err(PreviousError::TooLarge { what: "more records".into() });
            };
            let key_bits = match Written::of(key.occurrence, key.line, !segments.is_empty()) {
                Written::Occurrence(k) => Some(k).filter(|&k| k < LINE),
                Written::Line(line) => u32::try_from(line).ok().filter(|&l| l < LINE).map(|l| l | LINE),
            };
            let Some(key_bits) = key_bits else {
                return Err(PreviousError::TooLarge { what: format!("line or occurrence {}", key.line) });
            };
            let hash = job_hash_of(&key.task, key.args.iter().map(|a| a.as_ref()));
            entries.push(Entry { hash, key: key_bits, aux: status_bits(key.status) | seq });
            Ok(())
        })?;
        resolve(&mut entries, |e| segments.partition_point(|&s| s <= e.seq()) as u32);
        // One entry per job, its latest: sorted by job, then by time, the
        // last of each run of equal jobs wins.
        entries.sort_unstable_by_key(|e| (e.hash, e.key, e.aux & LOW));
        let mut kept = 0;
        for i in 0..entries.len() {
            let last =
                entries.get(i + 1).is_none_or(|n| (n.hash, n.key) != (entries[i].hash, entries[i].key));
            if last {
                // The counter of lines seen starts at 0.
                entries[kept] = Entry { aux: entries[i].aux & !LOW, ..entries[i] };
                kept += 1;
            }
        }
        entries.truncate(kept);
        let (index, bits) = build_index(&entries);
        Ok(Previous { entries, index, bits, torn_lines })
    }

    /// The next job of the jobs file whose hash is `hash`, in file order:
    /// its occurrence and its latest status, when the journal knows the
    /// hash; `None` when it does not (the job has no record, and its
    /// occurrence need not be known).
    pub fn next(&mut self, hash: u64) -> Option<(u32, Option<Status>)> {
        if self.entries.is_empty() {
            return None;
        }
        let bucket = hash.checked_shr(64 - self.bits).unwrap_or(0) as usize;
        let (lo, hi) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        let slice = &self.entries[lo..hi];
        let start = slice.partition_point(|e| e.hash < hash);
        if slice.get(start).is_none_or(|e| e.hash != hash) {
            return None;
        }
        let end = slice.partition_point(|e| e.hash <= hash);
        let group = &mut self.entries[lo + start..lo + end];
        let seen = group[0].aux & LOW;
        group[0].aux = (group[0].aux & !LOW) | (seen + 1).min(LOW);
        let status = group.binary_search_by_key(&seen, |e| e.key).ok().map(|i| status_of(group[i].aux));
        Some((seen, status))
    }

    /// How many jobs the journal records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The bucket index of sorted entries: about four entries a bucket.
fn build_index(entries: &[Entry]) -> (Vec<u32>, u32) {
    let bits = (entries.len() / 4).max(1).ilog2().clamp(1, 28);
    let buckets = 1usize << bits;
    let mut index = Vec::with_capacity(buckets + 1);
    let mut at = 0;
    for b in 0..buckets as u64 {
        while at < entries.len() && (entries[at].hash >> (64 - bits)) < b {
            at += 1;
        }
        index.push(at as u32);
    }
    index.push(entries.len() as u32);
    (index, bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::job_hash;

    fn load(text: &str) -> Previous {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, text).unwrap();
        Previous::load(&path).unwrap()
    }

    fn hash(arg: &str) -> u64 {
        job_hash("cube", &[arg.to_owned()])
    }

    const HEADER: &str = "{\"journal\":2,\"writer\":\"t\",\"started_unix\":0,\"host\":\"h\",\"pid\":1}\n";

    fn record(line: u64, arg: &str, status: &str, occurrence: Option<u32>) -> String {
        let occ = occurrence.map(|k| format!(",\"occurrence\":{k}")).unwrap_or_default();
        format!(
            "{{\"line\":{line}{occ},\"task\":\"cube\",\"args\":[\"{arg}\"],\"status\":\"{status}\",\"attempts\":1}}\n"
        )
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_rest_kept() {
        let mut prev = load(
            &(record(1, "1", "ok", None) + &record(2, "2", "error", None) + "{\"line\":3,\"task\":\"cu"),
        );
        assert_eq!((prev.len(), prev.torn_lines), (2, 1));
        assert_eq!(prev.next(hash("1")), Some((0, Some(Status::Ok))));
        assert_eq!(prev.next(hash("2")), Some((0, Some(Status::Error))));
        assert_eq!(prev.next(hash("9")), None, "an edited line is unknown");
    }

    #[test]
    fn no_journal_yet_means_nothing_done_and_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut prev = Previous::load(&dir.path().join("none.jsonl")).unwrap();
        assert!(prev.is_empty());
        assert_eq!(prev.next(hash("1")), None);
        assert!(matches!(Previous::load(dir.path()), Err(PreviousError::Io(_))));
    }

    #[test]
    fn the_latest_record_of_a_job_wins() {
        let mut prev = load(
            &(HEADER.to_owned()
                + &record(1, "1", "error", None)
                + HEADER
                + &record(1, "1", "timeout", None)
                + HEADER
                + &record(4, "1", "ok", None)),
        );
        assert_eq!(prev.len(), 1);
        assert_eq!(prev.next(hash("1")), Some((0, Some(Status::Ok))));
    }

    #[test]
    fn repeated_lines_are_counted_in_file_order_for_known_hashes_only() {
        // A fresh run recorded lines 2 and 7 of three `cube 5` lines (no
        // occurrences written); a resume then recorded the third.
        let mut prev = load(
            &(HEADER.to_owned()
                + &record(7, "5", "ok", None)
                + &record(2, "5", "error", None)
                + HEADER
                + &record(9, "5", "crashed", Some(2))),
        );
        assert_eq!(prev.len(), 3);
        assert_eq!(prev.next(hash("5")), Some((0, Some(Status::Error))));
        assert_eq!(prev.next(hash("5")), Some((1, Some(Status::Ok))));
        assert_eq!(prev.next(hash("5")), Some((2, Some(Status::Crashed))));
        assert_eq!(prev.next(hash("5")), Some((3, None)), "a fourth line is new, and numbered");
        assert_eq!(prev.next(hash("6")), None);
    }

    #[test]
    fn format_1_journals_meant_occurrence_0_when_none_was_written() {
        // No header: two records of line 1 and 3 are two runs of the first
        // occurrence (the file was edited between them), not two jobs.
        let mut prev = load(
            &(record(1, "5", "error", None) + &record(3, "5", "ok", None) + &record(4, "5", "ok", Some(1))),
        );
        assert_eq!(prev.len(), 2);
        assert_eq!(prev.next(hash("5")), Some((0, Some(Status::Ok))));
        assert_eq!(prev.next(hash("5")), Some((1, Some(Status::Ok))));
    }

    #[test]
    fn a_journal_from_a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"journal\":99}\n").unwrap();
        let err = Previous::load(&path).unwrap_err();
        assert!(err.to_string().contains("format 99"), "{err}");
    }

    #[test]
    fn many_jobs_are_all_found() {
        // Enough entries for many buckets, some hashes sharing one.
        let mut text = String::from(HEADER);
        for i in 0..5000 {
            text.push_str(&record(i + 1, &i.to_string(), if i % 3 == 0 { "error" } else { "ok" }, None));
        }
        let mut prev = load(&text);
        assert_eq!(prev.len(), 5000);
        for i in 0..5000 {
            let want = if i % 3 == 0 { Status::Error } else { Status::Ok };
            assert_eq!(prev.next(hash(&i.to_string())), Some((0, Some(want))), "job {i}");
        }
        assert_eq!(prev.next(hash("x")), None);
    }
}
