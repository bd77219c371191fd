//! Which job a worker is running, in a page the supervisor reads after the
//! worker died: how a death is pinned on the one job that was running
//! without a message per job (issue 19, #12).
//!
//! The supervisor makes an 8-byte file per worker ([`MarkDir`]) and names it
//! in the worker's environment ([`ENV`]); the worker maps it shared and
//! stores the id of each job before running it: one store, no system call.
//! The stores land in the page cache, which outlives the process, so the
//! supervisor reads the file after the death. A single 64-bit store cannot
//! be torn, whatever kills the worker. The worker says in its hello whether
//! it marks, so that a worker that could not map the file is judged by the
//! older rules instead of being thought idle.
//!
//! Python's pool maps a row of such words, one per thread that runs a
//! chunk ([`Marker::open_words`], [`read_words`]), for the item each is at.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that names a worker's marker file.
pub const ENV: &str = "PROCMAP_MARKER";

/// A mapped file of one or more 8-byte words.
pub struct Marker {
    word: *const AtomicU64,
    words: usize,
    _file: File,
}

// SAFETY: the mapping lives as long as the Marker and is only touched
// through an atomic.
unsafe impl Send for Marker {}
unsafe impl Sync for Marker {}

impl Marker {
    /// Maps `path` (made, and sized to 8 bytes, if needed).
    pub fn open(path: &Path) -> std::io::Result<Marker> {
        Marker::open_words(path, 1)
    }

    /// Maps `words` 8-byte words of `path` (made, and sized, if needed).
    pub fn open_words(path: &Path, words: usize) -> std::io::Result<Marker> {
        let words = words.max(1);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        file.set_len(8 * words as u64)?;
        use std::os::fd::AsRawFd;
        // SAFETY: a shared mapping of the words of a file sized above;
        // checked for failure below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8 * words,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Marker { word: ptr.cast(), words, _file: file })
    }

    /// Stores `word` in the first word.
    pub fn set(&self, word: u64) {
        self.word(0).store(word, Ordering::Relaxed);
    }

    /// The `index`th word, to store in (or claim with a compare-exchange).
    ///
    /// # Panics
    /// If `index` is beyond the words mapped.
    pub fn word(&self, index: usize) -> &AtomicU64 {
        assert!(index < self.words, "word {index} of a marker of {}", self.words);
        // SAFETY: `index` is within our live mapping (see `open_words`).
        unsafe { &*self.word.add(index) }
    }

    /// How many words it maps.
    pub fn words(&self) -> usize {
        self.words
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `open`, once.
        unsafe { libc::munmap(self.word as *mut libc::c_void, 8 * self.words) };
    }
}

/// What a marker file's first word holds; `None` if it cannot be read.
pub fn read(path: &Path) -> Option<u64> {
    let mut bytes = [0u8; 8];
    File::open(path).and_then(|mut f| f.read_exact(&mut bytes)).ok()?;
    Some(u64::from_ne_bytes(bytes))
}

/// Every word a marker file holds; `None` if it cannot be read.
pub fn read_words(path: &Path) -> Option<Vec<u64>> {
    let mut bytes = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).ok()?;
    Some(bytes.chunks_exact(8).map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes"))).collect())
}

/// The supervisor's directory of marker files, one per worker, removed
/// with the run.
pub(crate) struct MarkDir {
    path: PathBuf,
    /// Held while the directory is in use: no other run sweeps it away.
    _lock: std::fs::File,
}

impl MarkDir {
    /// A fresh directory on /dev/shm (memory) where it exists, named after
    /// this process, the stale ones of processes gone removed first (see
    /// `markdir.rs`).
    pub(crate) fn create() -> std::io::Result<MarkDir> {
        let fresh = crate::markdir::fresh("procmap-jobs")?;
        Ok(MarkDir { path: fresh.path, _lock: fresh.lock })
    }

    /// The marker file of a worker, made empty (0: no job started).
    pub(crate) fn file(&self, slot: usize, generation: u64) -> std::io::Result<PathBuf> {
        let path = self.path.join(format!("{slot}-{generation}"));
        std::fs::write(&path, [0u8; 8])?;
        Ok(path)
    }

    /// The id of the job the worker last started (0: none), and the file
    /// removed.
    pub(crate) fn take(&self, slot: usize, generation: u64) -> Option<u64> {
        let path = self.path.join(format!("{slot}-{generation}"));
        let word = read(&path);
        let _ = std::fs::remove_file(&path);
        word
    }
}

impl Drop for MarkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_worker_marks_is_read_back_after_it_is_gone() {
        let dir = MarkDir::create().unwrap();
        let path = dir.file(0, 1).unwrap();
        assert_eq!(read(&path), Some(0), "a fresh file says no job started");
        {
            let marker = Marker::open(&path).unwrap();
            marker.set(41);
            marker.set(42);
        }
        assert_eq!(dir.take(0, 1), Some(42));
        assert_eq!(dir.take(0, 1), None, "taken once");
        let gone = dir.path.clone();
        drop(dir);
        assert!(!gone.exists());
    }

    #[test]
    fn a_row_of_words_is_read_back_whole() {
        let dir = MarkDir::create().unwrap();
        let path = dir.path.join("row");
        {
            let marker = Marker::open_words(&path, 3).unwrap();
            assert_eq!(marker.words(), 3);
            marker.word(0).store(7, Ordering::Relaxed);
            marker.word(2).store(9, Ordering::Relaxed);
        }
        assert_eq!(read_words(&path), Some(vec![7, 0, 9]));
        assert_eq!(read(&path), Some(7));
        assert_eq!(read_words(&dir.path.join("none")), None);
        // Longer than a page: every word is mapped, to the last.
        let long = dir.path.join("long");
        {
            let marker = Marker::open_words(&long, 1000).unwrap();
            marker.word(999).store(5, Ordering::Relaxed);
        }
        let words = read_words(&long).unwrap();
        assert_eq!((words.len(), words[999]), (1000, 5));
    }
}
