//! Where marker files live: a directory per supervisor run or Python pool,
//! on /dev/shm (memory) where it exists, named `PREFIX-PID-N` after the
//! process that made it. The maker removes it at the end; a maker killed
//! with SIGKILL cannot, so whoever makes the next one first removes those
//! of its user whose process is gone.
//!
//! A pid tells a live maker only within one pid namespace: a process that
//! shares /dev/shm with another namespace's (rare: a pod's containers
//! sharing a memory volume) could take a live maker's directory for a dead
//! one's. That maker's later deaths are then judged without their marker
//! file, by the older rules (see `crate::marker`), and nothing else breaks.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh, empty directory `PREFIX-PID-N` for this process's marker
/// files, after removing the stale ones (see the module's docs).
pub fn fresh(prefix: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let name = format!("{prefix}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
    // Private, as tempfile's directories are; in memory where it can be.
    let make = |base: &Path| {
        sweep(base, prefix);
        let path = base.join(&name);
        std::fs::DirBuilder::new().mode(0o700).create(&path).map(|()| path)
    };
    let shm = Path::new("/dev/shm");
    match shm.is_dir().then(|| make(shm)) {
        Some(Ok(path)) => Ok(path),
        _ => make(&std::env::temp_dir()),
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
        if mine && !exists(pid) {
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
        sweep(&base, "t");
        let mut left: Vec<String> = std::fs::read_dir(&base)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want = vec![format!("t-{live}-0"), format!("t-{dead}"), format!("u-{dead}-0")];
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
