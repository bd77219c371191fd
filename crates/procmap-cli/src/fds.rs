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

/// Whether stdout was closed when the process started.
pub fn stdout_was_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
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
