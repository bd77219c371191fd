//! The Unix side of capture: pipes in place of fd 1 and 2, the signal that
//! says a job wrote something, and the crash handler that hands what is
//! still in the pipes to the supervisor before the process dies.
//!
//! Everything a signal handler touches is a static atomic, set before the
//! handlers are installed; the handlers only read, write, dup2, sigaction
//! and raise, which are async-signal-safe.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set when a job may have written to fd 1 or 2 since the last job ended:
/// by the SIGIO handler, in the writing thread itself before its write()
/// returns, and by the capture thread when it reads. A job end that finds
/// it clear has nothing to collect and makes no system call.
pub(super) static DIRTY: AtomicBool = AtomicBool::new(false);

/// A duplicate of the worker's stderr as it started: the supervisor's pipe.
static ORIGINAL: AtomicI32 = AtomicI32::new(-1);
/// The read ends of the stdout and stderr pipes.
static READ_ENDS: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];

/// The signals of a crash; what was installed for each before us is
/// called after our handler (Python's faulthandler, Rust's stack-overflow
/// report).
const CRASH_SIGNALS: [libc::c_int; 5] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];
static PREVIOUS: OnceLock<[libc::sigaction; 5]> = OnceLock::new();

/// Not in the libc crate for glibc: fcntl(2)'s F_SETOWN_EX.
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
#[repr(C)]
struct FOwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// fd 1 and 2 as pipes, for the worker's life.
pub(super) struct Redirect {
    /// The read ends, non-blocking: stdout, stderr.
    pub read: [OwnedFd; 2],
    /// The supervisor's pipe, where everything is also written through.
    pub original: RawFd,
    /// Whether a write to either pipe raises SIGIO in the thread that
    /// installed it. Without it, every job end has to look in the pipes.
    pub signalled: bool,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Points fd 1 and 2 at new pipes, keeps the old fd 2, and installs the
/// handlers. Once per process: a second call fails.
pub(super) fn redirect() -> io::Result<Redirect> {
    if ORIGINAL.load(Ordering::Acquire) >= 0 {
        return Err(io::Error::other("output is captured already"));
    }
    // SAFETY: plain fcntl/pipe2/dup2 calls on descriptors we own or that
    // every process has (0-2); each result is checked.
    let original = unsafe { check(libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3))? };
    let mut read = Vec::with_capacity(2);
    for target in [1, 2] {
        let mut ends = [0; 2];
        unsafe {
            check(libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC))?;
            let (r, w) = (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1]));
            // dup2 leaves the new fd 1 or 2 inheritable: a task's children
            // write into the same pipe.
            check(libc::dup2(w.as_raw_fd(), target))?;
            let flags = check(libc::fcntl(r.as_raw_fd(), libc::F_GETFL))?;
            check(libc::fcntl(r.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK))?;
            read.push(r);
        }
    }
    let read: [OwnedFd; 2] = read.try_into().expect("two pipes");
    for (slot, fd) in READ_ENDS.iter().zip(&read) {
        slot.store(fd.as_raw_fd(), Ordering::Release);
    }
    ORIGINAL.store(original, Ordering::Release);
    install_crash_handlers();
    let signalled = ask_for_sigio(&read).is_ok();
    Ok(Redirect { read, original, signalled })
}

/// SIGIO to this thread on every write to either pipe.
fn ask_for_sigio(read: &[OwnedFd; 2]) -> io::Result<()> {
    // SAFETY: a handler that stores to an atomic; sigaction and fcntl
    // results are checked.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigio as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        check(libc::sigaction(libc::SIGIO, &action, std::ptr::null_mut()))?;
        let owner = FOwnerEx { kind: F_OWNER_TID, pid: libc::gettid() };
        for fd in read {
            check(libc::fcntl(fd.as_raw_fd(), F_SETOWN_EX, &owner as *const FOwnerEx))?;
            let flags = check(libc::fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
            check(libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_ASYNC))?;
        }
    }
    Ok(())
}

extern "C" fn on_sigio(_: libc::c_int) {
    DIRTY.store(true, Ordering::Release);
}

fn install_crash_handlers() {
    // SAFETY: the previous actions are saved before ours are installed, so
    // the handler always finds them.
    unsafe {
        let mut previous: [libc::sigaction; 5] = std::mem::zeroed();
        for (signal, old) in CRASH_SIGNALS.iter().zip(previous.iter_mut()) {
            libc::sigaction(*signal, std::ptr::null(), old);
        }
        if PREVIOUS.set(previous).is_err() {
            return;
        }
        for signal in CRASH_SIGNALS {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_crash
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as libc::sighandler_t;
            // On the alternate stack where there is one: a stack overflow
            // must still be reported.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        libc::atexit(at_exit);
    }
}

/// A crash: what the job wrote last may still be in the pipes, which die
/// with the process. Write it through, point fd 1 and 2 back at the
/// supervisor (so that faulthandler's dump or an abort message reach it
/// directly), then let the handler from before us, or the default, end
/// the process.
extern "C" fn on_crash(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    drain_to_original();
    let original = ORIGINAL.load(Ordering::Acquire);
    // SAFETY: async-signal-safe calls only; `previous` was set before this
    // handler was installed.
    unsafe {
        libc::dup2(original, 1);
        libc::dup2(original, 2);
        let Some(previous) = PREVIOUS.get() else { return };
        let Some(i) = CRASH_SIGNALS.iter().position(|&s| s == signal) else { return };
        let old = previous[i];
        libc::sigaction(signal, &old, std::ptr::null_mut());
        match old.sa_sigaction {
            libc::SIG_DFL | libc::SIG_IGN => {
                // A fault repeats when the instruction runs again, and
                // abort() raises again; a signal sent by kill() or raise()
                // would not, so send it once more.
                if (*info).si_code <= 0 {
                    libc::raise(signal);
                }
            }
            handler if old.sa_flags & libc::SA_SIGINFO != 0 => {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(handler);
                f(signal, info, context);
            }
            handler => {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                f(signal);
            }
        }
    }
}

extern "C" fn at_exit() {
    drain_to_original();
}

/// Copies whatever is in the pipes to the supervisor's pipe, without
/// allocating or locking: a crash can come at any point.
fn drain_to_original() {
    let original = ORIGINAL.load(Ordering::Acquire);
    if original < 0 {
        return;
    }
    let mut buf = [0u8; 4096];
    for end in &READ_ENDS {
        let fd = end.load(Ordering::Acquire);
        loop {
            // SAFETY: a read into a stack buffer of its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            write_all(original, &buf[..n as usize]);
        }
    }
}

/// Writes all of `bytes` to `fd`, giving up on an error (the supervisor
/// went away: nobody is left to read it).
pub(super) fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: a write from a live slice of its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// What a non-blocking read found.
pub(super) enum Read {
    Bytes(usize),
    /// Nothing now.
    Empty,
    /// Every write end is closed (a task closed fd 1, say): never again.
    Closed,
}

/// Reads what `fd` (non-blocking) has now into `buf`.
pub(super) fn read_now(fd: RawFd, buf: &mut [u8]) -> Read {
    loop {
        // SAFETY: a read into a live buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n > 0 => return Read::Bytes(n as usize),
            0 => return Read::Closed,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            _ => return Read::Empty,
        }
    }
}

/// Waits until either pipe has something to read (a negative fd is left
/// out).
pub(super) fn wait_readable(read: &[RawFd; 2]) {
    let mut fds = read.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    // SAFETY: two pollfds of a live array. EINTR (SIGIO lands here too
    // when the capture thread takes it) just loops in the caller.
    unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
}

unsafe extern "C" {
    /// The C library's `stdout` stream.
    static mut stdout: *mut libc::FILE;
    /// Bytes waiting in a stream's buffer (glibc and musl, `stdio_ext.h`).
    fn __fpending(stream: *mut libc::FILE) -> libc::size_t;
}

/// Pushes out what the job's own buffers hold: Rust's stdout and C's
/// stdout (a task's printf; C's stderr is unbuffered). Python's are
/// flushed by the Python side. C's is flushed only when it holds
/// something: `__fpending` is a load, `fflush` a lock and a call chain,
/// a tenth of the cost of a tiny job's capture.
pub(super) fn flush_stdio() {
    let _ = io::Write::flush(&mut io::stdout());
    // SAFETY: glibc's `stdout` is a valid stream for the process's life.
    unsafe {
        if __fpending(stdout) > 0 {
            libc::fflush(stdout);
        }
    }
}
