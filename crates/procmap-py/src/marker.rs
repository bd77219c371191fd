//! Which item of its chunk each thread of a worker is running, in a file
//! the parent reads after the worker died: how a crash is pinned on one
//! item without running any item again to find out (issue 19, #12), and
//! how the parent knows when it cannot pin it (issue 21: a worker grown to
//! several threads by `mode="auto"` runs several chunks at once).
//!
//! Each worker maps `DIR/<pid>`: a count, then [`SLOTS`] words. A chunk
//! claims a free word when it begins ([`Marker::enter`], a compare-exchange,
//! before it even reads its payload) and frees it when it ends; the word
//! says which chunk (the engine job, which the chunk's first argument
//! names) and, while an item runs, which item: `(job << 21) | (1 << 20) |
//! index`, `(job << 21)` outside its items. A chunk that finds every word
//! taken (more threads than [`SLOTS`]: none grows that far) counts itself
//! in the first word instead, a thread the parent cannot place. `DIR` is
//! the pool's own directory (on /dev/shm where it exists), made and removed
//! by the parent; a worker removes its own file when it ends normally.
//!
//! After a death, [`Marks::judge`] says for one of the dead worker's chunks
//! which item was running, and how many other chunks were busy in the same
//! worker: with none, the death is that item's; with some, it may be any of
//! theirs (`procmap._blame` decides).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Bits of the item's index in a chunk: chunks hold at most 4,096 items.
const INDEX_BITS: u32 = 20;

/// The bit that says an item is running.
const IN_ITEM: u64 = 1 << INDEX_BITS;

/// Where the job begins in a word.
const JOB_SHIFT: u32 = INDEX_BITS + 1;

/// Words for chunks running at once: twice the most threads a worker runs,
/// since runners told to end may finish their last chunk while new ones
/// begin.
pub(crate) const SLOTS: usize = 2 * procmap::auto::MAX_THREADS;

/// The worker's end: its mapped words.
pub(crate) struct Marker {
    marker: procmap::marker::Marker,
    path: PathBuf,
}

impl Marker {
    /// Creates and maps `dir/<this pid>`.
    pub(crate) fn create(dir: &Path) -> std::io::Result<Marker> {
        let path = dir.join(std::process::id().to_string());
        let _ = std::fs::remove_file(&path);
        Ok(Marker { marker: procmap::marker::Marker::open_words(&path, 1 + SLOTS)?, path })
    }

    /// Claims a word for chunk `job`, which this thread begins now; it is
    /// freed when the [`Slot`] drops.
    pub(crate) fn enter(&self, job: u64) -> Slot<'_> {
        let word = job << JOB_SHIFT;
        for index in 1..=SLOTS {
            if self.marker.word(index).compare_exchange(0, word, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                return Slot { marker: self, index };
            }
        }
        self.marker.word(0).fetch_add(1, Ordering::Relaxed);
        Slot { marker: self, index: 0 }
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A chunk's word, while the chunk runs.
pub(crate) struct Slot<'a> {
    marker: &'a Marker,
    /// 0: no word was free (counted in the first word).
    index: usize,
}

impl Slot<'_> {
    /// Notes that item `index` of chunk `job` starts now.
    pub(crate) fn item(&self, job: u64, index: usize) {
        if self.index > 0 {
            self.marker.marker.word(self.index).store(pack(job, index), Ordering::Relaxed);
        }
    }

    /// Notes that chunk `job` runs none of its items now (it pickles its
    /// answer).
    pub(crate) fn between(&self, job: u64) {
        if self.index > 0 {
            self.marker.marker.word(self.index).store(job << JOB_SHIFT, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let word = self.marker.marker.word(self.index);
        if self.index == 0 {
            word.fetch_sub(1, Ordering::Relaxed);
        } else {
            word.store(0, Ordering::Relaxed);
        }
    }
}

fn pack(job: u64, index: usize) -> u64 {
    (job << JOB_SHIFT) | IN_ITEM | (index as u64 & (IN_ITEM - 1))
}

/// What a dead worker's file said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marks {
    /// Chunks that were busy and could not be placed.
    unplaced: u64,
    /// The busy words.
    words: Vec<u64>,
}

impl Marks {
    fn read(words: &[u64]) -> Marks {
        let unplaced = words.first().copied().unwrap_or(0);
        Marks { unplaced, words: words.iter().skip(1).copied().filter(|&w| w != 0).collect() }
    }

    /// For chunk `job` of the dead worker: the item it was running, if it
    /// was in one, and how many other chunks were busy in the worker.
    pub(crate) fn judge(&self, job: u64) -> (Option<usize>, usize) {
        let mine = |w: &&u64| **w >> JOB_SHIFT == job;
        let marked = self
            .words
            .iter()
            .find(mine)
            .and_then(|&w| (w & IN_ITEM != 0).then_some((w & (IN_ITEM - 1)) as usize));
        let others = self.words.iter().filter(|w| !mine(w)).count() + self.unplaced as usize;
        (marked, others)
    }
}

/// The parent's end: what the files of dead workers said, each read once
/// (and removed) and kept for a while, since each chunk a worker was
/// running comes back as a record of its own.
#[derive(Default)]
pub(crate) struct Taken(std::sync::Mutex<std::collections::VecDeque<(u32, Instant, Option<Marks>)>>);

/// How long what a dead worker's file said is kept for its other chunks'
/// records, which the engine sends together.
const KEEP: Duration = Duration::from_secs(10);

impl Taken {
    /// What dead worker `pid`'s file says; `None` if it marked nothing
    /// (it could not map the file).
    pub(crate) fn marks(&self, dir: &Path, pid: u32) -> Option<Marks> {
        let path = dir.join(pid.to_string());
        let mut taken = self.0.lock().unwrap_or_else(|p| p.into_inner());
        taken.retain(|(_, at, _)| at.elapsed() < KEEP);
        // A file that exists is read afresh: a new worker may have been
        // given the pid of one read before.
        if !path.exists()
            && let Some((_, _, marks)) = taken.iter().find(|(p, _, _)| *p == pid)
        {
            return marks.clone();
        }
        let marks = procmap::marker::read_words(&path).map(|w| Marks::read(&w));
        let _ = std::fs::remove_file(&path);
        taken.push_back((pid, Instant::now(), marks.clone()));
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(words: &[u64]) -> Marks {
        Marks::read(words)
    }

    #[test]
    fn one_chunk_in_an_item_is_pinned_and_alone() {
        let m = marks(&[0, pack(7, 3), 0, 0]);
        assert_eq!(m.judge(7), (Some(3), 0));
        // Another chunk of the same worker that had not begun: not placed.
        assert_eq!(m.judge(8), (None, 1));
    }

    #[test]
    fn several_busy_chunks_are_counted_as_others() {
        let m = marks(&[0, pack(7, 3), 9 << JOB_SHIFT, pack(11, 0)]);
        assert_eq!(m.judge(7), (Some(3), 2));
        assert_eq!(m.judge(9), (None, 2), "between its items");
        assert_eq!(m.judge(11), (Some(0), 2));
    }

    #[test]
    fn chunks_that_found_no_word_count_for_everyone() {
        let m = marks(&[1, pack(7, 3)]);
        assert_eq!(m.judge(7), (Some(3), 1));
    }

    #[test]
    fn a_chunk_between_its_items_is_busy_but_runs_none_and_an_unplaced_one_only_counts() {
        let dir = std::env::temp_dir().join(format!("procmap-marker-between-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(std::process::id().to_string());
        let marker = Marker::create(&dir).unwrap();
        let a = marker.enter(5);
        a.item(5, 3);
        a.between(5);
        let judged = |job| Marks::read(&procmap::marker::read_words(&path).unwrap()).judge(job);
        assert_eq!(judged(5), (None, 0), "between its items: no item runs");
        assert_eq!(judged(6), (None, 1), "but it is busy beside another chunk");
        // Every word taken: one more chunk is counted in word 0, and its
        // items and pauses leave that count alone.
        let slots: Vec<_> = (0..SLOTS as u64 - 1).map(|job| marker.enter(100 + job)).collect();
        let unplaced = marker.enter(9);
        unplaced.item(9, 1);
        unplaced.between(9);
        let words = procmap::marker::read_words(&path).unwrap();
        assert_eq!(words[0], 1, "one unplaced chunk");
        // Every placed chunk, and the unplaced count, which cannot tell 9
        // from another unplaced chunk: its death counts as shared.
        assert_eq!(judged(9), (None, SLOTS + 1));
        drop((unplaced, slots, a));
        assert_eq!(procmap::marker::read_words(&path).unwrap(), vec![0; 1 + SLOTS], "all freed");
        drop(marker);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_worker_claims_and_frees_its_words_and_the_parent_reads_them_once() {
        let dir = std::env::temp_dir().join(format!("procmap-marker-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = Marker::create(&dir).unwrap();
        let a = marker.enter(5);
        a.item(5, 2);
        {
            let b = marker.enter(6);
            b.item(6, 0);
            b.between(6);
        }
        let c = marker.enter(7);
        let words = procmap::marker::read_words(&dir.join(std::process::id().to_string())).unwrap();
        assert_eq!(words.len(), 1 + SLOTS);
        assert_eq!(&words[..3], [0, pack(5, 2), 7 << JOB_SHIFT], "6's word was freed and 7 took it");
        drop((a, c));
        let taken = Taken::default();
        let m = taken.marks(&dir, std::process::id()).unwrap();
        assert_eq!(m.judge(5), (None, 0));
        assert!(!dir.join(std::process::id().to_string()).exists(), "removed once read");
        assert_eq!(taken.marks(&dir, std::process::id()), Some(m), "kept for the other chunks");
        drop(marker);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A pool's directory of marker files (and spilled chunks, and its
/// template's socket): named after this process and locked while it is in
/// use, the stale ones of pools whose process is gone removed first (see
/// `procmap::markdir`).
#[pyo3::pyclass(module = "procmap._native")]
pub(crate) struct MarksDir(std::sync::Mutex<Option<procmap::markdir::Fresh>>);

#[pyo3::pymethods]
impl MarksDir {
    #[new]
    fn new() -> pyo3::PyResult<Self> {
        Ok(MarksDir(std::sync::Mutex::new(Some(procmap::markdir::fresh("procmap-marks")?))))
    }

    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|f| f.path.clone())
    }

    /// Removes the directory and lets go of its lock; later calls do
    /// nothing.
    fn remove(&self) {
        if let Some(fresh) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = std::fs::remove_dir_all(&fresh.path);
        }
    }
}
