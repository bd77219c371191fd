//! A stdout that was closed when the supervisor started.
//!
//! A process started with a standard descriptor closed (`>&-`) would hand
//! the next file it opens that number: the jobs file, an IPC socket, which
//! "stdout" records would then corrupt. Rust's runtime prevents that before
//! `main` by opening /dev/null, read-write, on each closed one. A journal
//! meant for such a stdout would silently go nowhere, so it is refused; a
//! shell's `>/dev/null` opens /dev/null write-only, which stays a choice the
//! user made.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};

/// Whether stdout was closed when the process started: it is /dev/null,
/// opened read-write.
pub fn stdout_was_closed() -> bool {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    let device = |path: &str| {
        std::fs::metadata(path).ok().filter(|m| m.file_type().is_char_device()).map(|m| m.rdev())
    };
    flags != -1
        && flags & libc::O_ACCMODE == libc::O_RDWR
        && device("/dev/stdout").is_some_and(|d| device("/dev/null") == Some(d))
}
