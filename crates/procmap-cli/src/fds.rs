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
use std::os::unix::io::FromRawFd as _;

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

/// Takes stdout for the journal alone: the journal gets a descriptor of its
/// own on what stdout was, and descriptor 1 becomes stderr. Tasks that run
/// in this process (thread and serial mode) and print would otherwise put
/// their text between the records; now it reaches stderr, as a worker
/// process's does.
pub fn take_stdout() -> std::io::Result<std::fs::File> {
    // SAFETY: dup and dup2 act on descriptors only; the new descriptor is
    // owned by the File from here on, and 1 and 2 stay open throughout.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let journal = std::fs::File::from_raw_fd(fd);
        if libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(journal)
    }
}
