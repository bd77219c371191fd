//! Which item a worker is running, in a page the parent can read after the
//! worker died: how a crash is pinned on one item of a chunk without
//! running any item again to find out (issue 19, #12).
//!
//! Each worker maps a file of 8 bytes, `DIR/<pid>`, shared, and stores
//! `(job << INDEX_BITS) | index` in it before each item: one store, no
//! message, no system call. The stores land in the page cache, which
//! outlives the process, so the parent reads the file after the worker's
//! death. A single 64-bit store cannot be torn, whatever kills the worker.
//! `DIR` is the pool's own directory (on /dev/shm where it exists), made
//! and removed by the parent; a worker removes its own file when it ends
//! normally.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of the item's index in a chunk: chunks hold at most 4,096 items.
const INDEX_BITS: u32 = 20;

/// The worker's end: its mapped word.
pub(crate) struct Marker {
    word: *const AtomicU64,
    path: PathBuf,
    _file: File,
}

// SAFETY: the mapping lives as long as the Marker and is only touched
// through an atomic.
unsafe impl Send for Marker {}
unsafe impl Sync for Marker {}

impl Marker {
    /// Creates and maps `dir/<this pid>`.
    pub(crate) fn create(dir: &Path) -> std::io::Result<Marker> {
        let path = dir.join(std::process::id().to_string());
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
        file.set_len(8)?;
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of 8 bytes of a file we just sized;
        // checked for failure below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Marker { word: ptr.cast(), path, _file: file })
    }

    /// Notes that item `index` of job `job` starts now.
    pub(crate) fn set(&self, job: u64, index: usize) {
        // SAFETY: `word` points into our live mapping (see `create`).
        unsafe { &*self.word }.store(pack(job, index), Ordering::Relaxed);
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `create`, once.
        unsafe { libc::munmap(self.word as *mut libc::c_void, 8) };
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pack(job: u64, index: usize) -> u64 {
    (job << INDEX_BITS) | (index as u64 & ((1 << INDEX_BITS) - 1))
}

fn unpack(word: u64) -> (u64, usize) {
    (word >> INDEX_BITS, (word & ((1 << INDEX_BITS) - 1)) as usize)
}

/// The parent's end: the job and item a dead worker last started, and the
/// file removed. `None` if the worker never marked anything.
pub(crate) fn take(dir: &Path, pid: u32) -> Option<(u64, usize)> {
    let path = dir.join(pid.to_string());
    let mut bytes = [0u8; 8];
    let read = File::open(&path).and_then(|mut f| f.read_exact(&mut bytes));
    let _ = std::fs::remove_file(&path);
    read.ok()?;
    let word = u64::from_ne_bytes(bytes);
    (word != 0).then(|| unpack(word))
}
