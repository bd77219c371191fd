//! The standard descriptors, checked before anything else opens a file.
//!
//! A process started with stdout or stderr closed (`>&-`) hands the next
//! file it opens that number: the jobs file, an IPC socket. Journal records
//! or messages written "to stdout" would then land in that file or socket.
//! So a closed standard descriptor is opened on /dev/null at start, and a
//! journal meant for a closed stdout is refused.

/// Whether descriptor `fd` is open.
pub fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether stdout was closed when the process started. Rust's runtime
/// itself opens /dev/null read-write on a closed standard descriptor before
/// `main`, so that is what a closed stdout looks like here; a shell's
/// `>/dev/null` opens it write-only.
pub fn stdout_was_closed() -> bool {
    if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
        return true;
    }
    use std::os::unix::fs::MetadataExt as _;
    let rdev = |path: &str| std::fs::metadata(path).ok().map(|m| (m.rdev(), m.file_type().is_char_device()));
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    use std::os::unix::fs::FileTypeExt as _;
    flags != -1
        && flags & libc::O_ACCMODE == libc::O_RDWR
        && rdev("/dev/stdout").is_some_and(|(dev, chr)| chr && rdev("/dev/null") == Some((dev, true)))
}

/// Opens /dev/null on each of 0, 1 and 2 that is closed.
pub fn guard_standard() {
    for fd in 0..3 {
        if !is_open(fd) {
            if fd == 1 {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            // open() returns the lowest free descriptor: this one.
            // SAFETY: a constant NUL-terminated path; the descriptor is
            // deliberately left open for the life of the process.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}
