//! The occurrence of records that do not say which occurrence they are.
//!
//! A run that does not resume cannot know whether a line repeats an earlier
//! one without remembering every line it has read (see [`crate::identity`]),
//! so its records carry only their line. Readers recover the occurrence:
//! among the records of one hash written by one run (one segment of the
//! journal, see [`crate::journal::Header`]), the record of the lowest line
//! is occurrence 0, the next line occurrence 1, and so on. Lines keep their
//! order among themselves when other lines are inserted or deleted, so the
//! rank is the same in every version of the file. Where the ranks skip a job
//! that did not finish (lines 3 and 9 recorded, line 5 not), the ranks say 0
//! and 1 were done and a resume runs the third: identical lines are
//! interchangeable, and as many run as the journal lacks.
//!
//! A run that resumes knows the occurrences of the hashes the old journal
//! holds (it counts them as it reads the file) and writes them, except 0:
//! within its segment such a hash then has at most one record without an
//! occurrence, which ranks 0. Records before any header (journal format 1)
//! omitted only occurrence 0.

/// What a record says of its occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Occurrence(u32),
    /// No occurrence: ranked by line within its segment.
    Line(u64),
}

impl Written {
    /// What a record says of its occurrence: the `occurrence` it carries,
    /// its `line`, and whether its journal had a header before it (format
    /// 2). Before any header (format 1) a missing occurrence meant 0.
    pub fn of(occurrence: Option<u32>, line: u64, after_header: bool) -> Written {
        match (occurrence, after_header) {
            (Some(k), _) => Written::Occurrence(k),
            (None, false) => Written::Occurrence(0),
            (None, true) => Written::Line(line),
        }
    }
}

/// A record as [`resolve`] needs it.
pub trait Recorded {
    fn hash(&self) -> u64;
    /// The record's place in time: later records have higher numbers.
    fn seq(&self) -> u64;
    fn written(&self) -> Written;
    fn set_occurrence(&mut self, occurrence: u32);
}

/// A record being read, with what [`resolve`] needs beside it: readers that
/// keep more than a hash per record (the ledger, [`crate::lookup`]) tag
/// what they keep with this.
#[derive(Debug)]
pub struct Tagged<T> {
    pub hash: u64,
    /// Its place in time: the order the records were read in.
    pub seq: u64,
    /// The run (header) that wrote it.
    pub segment: u32,
    pub written: Written,
    /// Set by [`resolve`].
    pub occurrence: u32,
    pub item: T,
}

impl<T> Recorded for Tagged<T> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn written(&self) -> Written {
        self.written
    }
    fn set_occurrence(&mut self, occurrence: u32) {
        self.occurrence = occurrence;
    }
}

/// Resolves tagged records by their own segments (see [`resolve`]).
pub fn resolve_tagged<T>(records: &mut [Tagged<T>]) {
    resolve(records, |r| r.segment);
}

/// Gives every record its occurrence (see the module docs). `segment`
/// numbers the run that wrote a record. Leaves the
/// records sorted by hash, and by time within a hash.
pub fn resolve<R: Recorded>(records: &mut [R], segment: impl Fn(&R) -> u32) {
    records.sort_unstable_by_key(|r| (r.hash(), r.seq()));
    for group in records.chunk_by_mut(|a, b| a.hash() == b.hash()) {
        if let [only] = group {
            // Most hashes: one record, ranked 0 if it has no occurrence.
            let occurrence = match only.written() {
                Written::Occurrence(k) => k,
                Written::Line(_) => 0,
            };
            only.set_occurrence(occurrence);
            continue;
        }
        // The distinct (segment, line) pairs of the records without an
        // occurrence, sorted: a record's rank is its position among those
        // of its segment.
        let mut implicit: Vec<(u32, u64)> = group
            .iter()
            .filter_map(|r| match r.written() {
                Written::Line(line) => Some((segment(r), line)),
                Written::Occurrence(_) => None,
            })
            .collect();
        implicit.sort_unstable();
        implicit.dedup();
        for r in group.iter_mut() {
            let occurrence = match r.written() {
                Written::Occurrence(k) => k,
                Written::Line(line) => {
                    let seg = segment(r);
                    let first = implicit.partition_point(|&(s, _)| s < seg);
                    let at = implicit.partition_point(|&p| p < (seg, line));
                    u32::try_from(at - first).unwrap_or(u32::MAX)
                }
            };
            r.set_occurrence(occurrence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves `(hash, written)` records written in that order, with
    /// segments starting at the given seqs; returns (hash, seq, occurrence)
    /// in the input's order.
    fn occurrences(records: &[(u64, Written)], starts: &[u64]) -> Vec<(u64, u32)> {
        // The item: whether `resolve` set the occurrence.
        let mut rs: Vec<Tagged<bool>> = records
            .iter()
            .enumerate()
            .map(|(i, &(hash, written))| {
                let segment = starts.partition_point(|&s| s <= i as u64) as u32;
                Tagged { hash, seq: i as u64, segment, written, occurrence: u32::MAX, item: false }
            })
            .collect();
        resolve_tagged(&mut rs);
        rs.sort_by_key(|r| r.seq);
        assert!(rs.iter().all(|r| r.occurrence != u32::MAX), "every record is resolved");
        rs.iter().map(|r| (r.hash, r.occurrence)).collect()
    }

    use Written::{Line, Occurrence};

    #[test]
    fn records_without_an_occurrence_rank_by_line_within_their_hash() {
        // Completion order, not line order: lines 9, 3, 5 of hash 1.
        let got = occurrences(&[(1, Line(9)), (2, Line(4)), (1, Line(3)), (1, Line(5))], &[0]);
        assert_eq!(got, [(1, 2), (2, 0), (1, 0), (1, 1)]);
    }

    #[test]
    fn a_gap_in_the_lines_is_not_a_gap_in_the_ranks() {
        // Lines 3 and 9 of three identical lines finished: ranks 0 and 1.
        assert_eq!(occurrences(&[(1, Line(9)), (1, Line(3))], &[0]), [(1, 1), (1, 0)]);
    }

    #[test]
    fn each_segment_ranks_its_own_records_and_written_occurrences_stand() {
        // Segment 1 (a fresh run): lines 3 and 7. Segment 2 (a resume that
        // knew the hash): occurrence 0 again (not written, line 4 now), and
        // occurrence 2 written.
        let got = occurrences(&[(1, Line(3)), (1, Line(7)), (1, Line(4)), (1, Occurrence(2))], &[0, 2]);
        assert_eq!(got, [(1, 0), (1, 1), (1, 0), (1, 2)]);
    }

    #[test]
    fn the_same_line_twice_in_a_segment_is_one_job() {
        let got = occurrences(&[(1, Line(5)), (1, Line(8)), (1, Line(5))], &[0]);
        assert_eq!(got, [(1, 0), (1, 1), (1, 0)]);
    }

    #[test]
    fn a_lone_record_is_its_written_occurrence_or_zero() {
        assert_eq!(occurrences(&[(1, Occurrence(3)), (2, Line(40))], &[0]), [(1, 3), (2, 0)]);
    }
}
