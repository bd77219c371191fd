//! Where marker files live: a directory per supervisor run or Python pool,
//! on /dev/shm (memory) where it exists, named `PREFIX-PID-N` after the
//! process that made it. The maker removes it at the end; a maker killed
//! with SIGKILL cannot, so whoever makes the next one first removes those
//! of its user whose process is gone.
//!
//! A pid tells a live maker only within one pid namespace, and a process
//! that shares /dev/shm with another namespace's (a pod's containers
//! sharing a memory volume) could take a live maker's directory for a dead
//! one's; a Python pool keeps its template's socket and its spilled chunks
//! there too. So the maker also holds a lock (`flock`) on the directory's
//! `.owner` file for as long as the directory is in use, and a directory
//! whose lock another process holds is never removed, whatever its pid
//! says. The lock goes with the last process that holds it open, however
//! it dies (a forked template shares it).

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory made by [`fresh`], in use while its lock is held.
#[derive(Debug)]
pub struct Fresh {
    pub path: PathBuf,
    /// `.owner`, locked: keep it open as long as the directory is in use.
    pub lock: File,
}

/// The name of the lock file in a marker directory.
const OWNER: &str = ".owner";

/// A fresh, empty directory `PREFIX-PID-N` for this process's marker
/// files, locked, after removing the stale ones (see the module's docs).
pub fn fresh(prefix: &str) -> std::io::Result<Fresh> {
    use std::os::unix::fs::DirBuilderExt as _;
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let name = format!("{prefix}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
    // Private, as tempfile's directories are; in memory where it can be.
    let make = |base: &Path| {
        sweep(base, prefix);
        let path = base.join(&name);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        let lock = File::create(path.join(OWNER))?;
        if !try_lock(&lock) {
            return Err(std::io::Error::other("cannot lock a fresh marker directory"));
        }
        Ok(Fresh { path, lock })
    };
    let shm = Path::new("/dev/shm");
    match shm.is_dir().then(|| make(shm)) {
        Some(Ok(fresh)) => Ok(fresh),
        _ => make(&std::env::temp_dir()),
    }
}

/// Takes the exclusive lock on `file` without waiting; false if another
/// open file holds it.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether the maker of `dir` still holds it: its `.owner` is locked. A
/// directory without one (from before the lock) has only its pid to go by.
fn held(dir: &Path) -> bool {
    match File::open(dir.join(OWNER)) {
        Ok(file) => !try_lock(&file),
        Err(_) => false,
    }
}

/// The pid in a directory name `PREFIX-PID-N`, if it is one.
pub(crate) fn maker_of(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Removes the directories of `prefix` in `base` that this user made from
/// processes that no longer exist.
fn sweep(base: &Path, prefix: &str) {
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| maker_of(name, prefix)) else { continue };
        let mine = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        if mine && !exists(pid) && !held(&entry.path()) {
            tracing::debug!(dir = %entry.path().display(), "removing the marker directory of a process that is gone");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` exists (signal 0 checks without sending; EPERM:
/// it exists, as another user's).
fn exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 sends nothing.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maker_is_read_from_the_name() {
        assert_eq!(maker_of("procmap-jobs-4242-0", "procmap-jobs"), Some(4242));
        assert_eq!(maker_of("procmap-jobs-4242-17", "procmap-jobs"), Some(4242));
        assert_eq!(maker_of("procmap-jobs-4242", "procmap-jobs"), None);
        assert_eq!(maker_of("procmap-jobs-x-0", "procmap-jobs"), None);
        assert_eq!(maker_of("procmap-jobs-4242-x", "procmap-jobs"), None);
        assert_eq!(maker_of("procmap-marks-4242-0", "procmap-jobs"), None);
        assert_eq!(maker_of("procmap-jobsX4242-0", "procmap-jobs"), None);
    }

    #[test]
    fn a_fresh_directory_is_held_until_its_lock_is_let_go() {
        let fresh = fresh("procmap-locktest").unwrap();
        assert!(held(&fresh.path), "held while its lock is open");
        drop(fresh.lock);
        assert!(!held(&fresh.path), "free once it is closed");
        std::fs::remove_dir_all(&fresh.path).unwrap();
    }

    #[test]
    fn a_dead_makers_directory_goes_and_a_live_ones_stays() {
        let base = std::env::temp_dir().join(format!("procmap-sweep-test-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        // A pid that existed and is gone: a child, reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let live = std::process::id();
        for name in [format!("t-{dead}-0"), format!("t-{live}-0"), format!("u-{dead}-0"), format!("t-{dead}")]
        {
            std::fs::create_dir(base.join(&name)).unwrap();
            std::fs::write(base.join(&name).join("0-1"), [0u8; 8]).unwrap();
        }
        // A dead pid whose directory is still held (a maker in another pid
        // namespace), and one whose lock was let go.
        let held = base.join(format!("t-{dead}-1"));
        std::fs::create_dir(&held).unwrap();
        let lock = File::create(held.join(OWNER)).unwrap();
        assert!(try_lock(&lock));
        let free = base.join(format!("t-{dead}-2"));
        std::fs::create_dir(&free).unwrap();
        drop(File::create(free.join(OWNER)).unwrap());
        sweep(&base, "t");
        let mut left: Vec<String> = std::fs::read_dir(&base)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want =
            vec![format!("t-{live}-0"), format!("t-{dead}"), format!("u-{dead}-0"), format!("t-{dead}-1")];
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
