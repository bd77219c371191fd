//! Whole records read back from a journal: every one in order, or the
//! latest of given jobs. [`crate::previous`] keeps 16 bytes of each record
//! for a resume; a reader that needs a job's value (the Python package's
//! `map`, which returns the values of the items a resume skipped) finds the
//! records here, by the same rules: headers and torn lines as
//! [`parse_line`] says, occurrences as [`crate::occurrence`] resolves them.

use crate::identity::{Identity, job_hash};
use crate::journal::{Line, for_each_line, parse_line};
use crate::occurrence::{Tagged, Written, resolve_tagged};
use crate::previous::PreviousError;
use procmap::JobRecord;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::Path;

/// What [`for_each_record`] found besides records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Headers: the runs that wrote the journal.
    pub segments: u32,
    /// Lines that are not records: a torn last line, foreign text.
    pub torn_lines: usize,
}

/// One record of a journal, as [`for_each_record`] reads it.
pub struct Found<'a> {
    /// The headers before it: 0 for the records of a format-1 journal,
    /// which has none.
    pub segment: u32,
    pub record: JobRecord,
    /// The occurrence, when the record names one.
    pub occurrence: Option<u32>,
    /// The line as written, without its newline. (A `"value":null` is
    /// here only: `record.value` is then `None`.)
    pub text: &'a [u8],
}

/// Calls `f` with every record of the journal at `path`, in order. A
/// journal that does not exist has no records.
pub fn for_each_record(path: &Path, mut f: impl FnMut(Found<'_>)) -> Result<Read, PreviousError> {
    // JobRecord has no occurrence field, and a flattened struct cannot hold
    // its raw `value`: the occurrence is read on its own.
    #[derive(serde::Deserialize)]
    struct Occurrence {
        #[serde(default)]
        occurrence: Option<u32>,
    }
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::default()),
        Err(e) => return Err(PreviousError::Io(e)),
    };
    let mut read = Read::default();
    for_each_line(file, |raw| -> Result<(), PreviousError> {
        match parse_line::<JobRecord>(raw.text)? {
            Line::Header => read.segments += 1,
            Line::Auto => {}
            Line::Unreadable => read.torn_lines += 1,
            Line::Record(record) => {
                let occurrence =
                    serde_json::from_slice::<Occurrence>(raw.text).ok().and_then(|o| o.occurrence);
                f(Found { segment: read.segments, record, occurrence, text: raw.text })
            }
        }
        Ok(())
    })?;
    Ok(read)
}

/// The latest record of each of `jobs` that the journal at `path` has.
pub fn latest_records(path: &Path, jobs: &[Identity]) -> Result<HashMap<Identity, JobRecord>, PreviousError> {
    let hashes: HashSet<u64> = jobs.iter().map(|j| j.hash).collect();
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: HashSet<&Identity> = jobs.iter().collect();
    let mut latest = latest_of(path, |hash| hashes.contains(&hash))?;
    latest.retain(|id, _| wanted.contains(id));
    Ok(latest)
}

/// The latest record of every job whose hash `wanted` accepts that the
/// journal at `path` has: for a reader that looks up many jobs one at a
/// time (a resumed Python stream of `submit` calls) and reads the journal
/// once for them all.
pub fn latest_of(
    path: &Path,
    wanted: impl Fn(u64) -> bool,
) -> Result<HashMap<Identity, JobRecord>, PreviousError> {
    // Only the records of the wanted hashes: occurrences rank within a hash.
    let mut found = Vec::new();
    let mut seq = 0;
    for_each_record(path, |Found { segment, record, occurrence, .. }| {
        seq += 1;
        let hash = job_hash(&record.task, &record.args);
        if !wanted(hash) {
            return;
        }
        let written = Written::of(occurrence, record.line, segment > 0);
        found.push(Tagged { hash, seq, segment, written, occurrence: 0, item: record });
    })?;
    resolve_tagged(&mut found);
    let mut latest = HashMap::new();
    // Sorted by hash, then time: the last record of a job wins.
    for f in found {
        latest.insert(Identity { hash: f.hash, occurrence: f.occurrence }, f.item);
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "{\"journal\":2,\"writer\":\"t\",\"started_unix\":0,\"host\":\"h\",\"pid\":1}\n";

    fn record(line: u64, arg: &str, value: u32, occurrence: Option<u32>) -> String {
        let occ = occurrence.map(|k| format!(",\"occurrence\":{k}")).unwrap_or_default();
        format!(
            "{{\"line\":{line}{occ},\"task\":\"cube\",\"args\":[\"{arg}\"],\"status\":\"ok\",\"value\":{value},\"attempts\":1}}\n"
        )
    }

    fn id(arg: &str, occurrence: u32) -> Identity {
        Identity { hash: job_hash("cube", &[arg.to_owned()]), occurrence }
    }

    #[test]
    fn the_latest_record_of_each_occurrence_is_found_and_torn_lines_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        // Run 1: lines 2 and 5 are `cube 2` (occurrences 0 and 1). Run 2 (a
        // resume) redid occurrence 1, saying so, and died mid-line.
        let text = HEADER.to_owned()
            + &record(5, "2", 51, None)
            + &record(2, "2", 20, None)
            + &record(1, "1", 10, None)
            + HEADER
            + &record(9, "2", 52, Some(1));
        // Cut inside a two-byte UTF-8 character.
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"{\"line\":3,\"task\":\"\xc3");
        std::fs::write(&path, bytes).unwrap();
        let got = latest_records(&path, &[id("2", 0), id("2", 1), id("3", 0)]).unwrap();
        let value = |i: Identity| got[&i].value.as_ref().unwrap().get().to_owned();
        assert_eq!(got.len(), 2);
        assert_eq!((value(id("2", 0)), value(id("2", 1))), ("20".into(), "52".into()));
        let mut lines = Vec::new();
        let read = for_each_record(&path, |f| lines.push((f.segment, f.record.line, f.occurrence))).unwrap();
        assert_eq!(read, Read { segments: 2, torn_lines: 1 });
        assert_eq!(lines, [(1, 5, None), (1, 2, None), (1, 1, None), (2, 9, Some(1))]);
    }

    #[test]
    fn a_format_1_journal_s_records_without_an_occurrence_are_occurrence_0_and_the_last_wins() {
        // Before headers (format 1) a record without an occurrence was
        // occurrence 0, whatever its line: `cube 2` on lines 5 and 2 is one
        // job recorded twice, not two jobs.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, record(5, "2", 51, None) + &record(2, "2", 20, None)).unwrap();
        let got = latest_of(&path, |_| true).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[&id("2", 0)].value.as_ref().unwrap().get(), "20");
    }

    #[test]
    fn no_journal_has_no_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.jsonl");
        assert!(latest_records(&path, &[id("1", 0)]).unwrap().is_empty());
        assert_eq!(for_each_record(&path, |_| unreachable!()).unwrap(), Read::default());
    }
}
