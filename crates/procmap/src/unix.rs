//! Linux process plumbing, kept apart from the pool's logic: spawning a
//! worker in its own process group with a parent-death signal and an
//! optional memory cap, signalling its group, and naming signals.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};

/// Prepares `cmd` so that the child
/// - is killed if the thread that spawned it exits (PR_SET_PDEATHSIG; spawn
///   only from a thread that lives as long as the pool),
/// - exits at once if its parent already died before the prctl took effect,
/// - leads its own process group, so a terminal's Ctrl-C reaches only the
///   supervisor, which decides what the workers do, and a kill of the group
///   also reaches whatever the job itself spawned,
/// - has its data segment capped at `mem_limit` bytes, if given.
pub(crate) fn configure(cmd: &mut Command, mem_limit: Option<u64>) {
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid, setrlimit, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            if let Some(bytes) = mem_limit {
                let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the process group led by `pid`. Call it only for a
/// child that has not been reaped yet, so the pid cannot have been reused.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        // No such group: a worker forked by a template that has not made
        // its group yet. The process itself still gets the signal.
        if libc::kill(-(pid as libc::pid_t), signal) != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

/// Open files the supervisor holds per worker: its channel (two sockets),
/// the one-shot server while it connects, the stderr pipe, and the pidfd
/// and pipes of a spawn in progress, with room to spare.
const FDS_PER_WORKER: u64 = 8;

/// Open files the supervisor needs besides its workers: the jobs file, the
/// journal, the standard streams, the event loop's own.
const FDS_BASE: u64 = 64;

/// Makes sure `procs` workers fit under the open-file limit, raising the
/// soft limit up to the hard one if needed (as Go's runtime does at start).
pub(crate) fn ensure_fd_limit(procs: usize) -> Result<(), crate::PoolError> {
    let needed = FDS_BASE + FDS_PER_WORKER * procs as u64;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Ok(());
    }
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    if limit.rlim_max >= needed {
        let raised = libc::rlimit { rlim_cur: needed as libc::rlim_t, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(());
        }
    }
    Err(crate::PoolError::TooManyWorkers { procs, needed, limit: limit.rlim_max })
}

/// Whether the child `pid` has exited, without reaping it: while it is a
/// zombie its pid, and so its process group id, cannot be reused, and the
/// group may still be signalled safely.
pub(crate) fn exited_unreaped(pid: u32) -> bool {
    // SAFETY: waitid writes into the siginfo we pass; WNOWAIT leaves the
    // child waitable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc == 0 && info.si_pid() != 0
    }
}

/// How a worker process ended, for humans and for records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Code(-1),
        }
    }
}

/// The conventional name of a signal, e.g. `SIGSEGV`.
pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}

/// The CPU time this thread has used, in nanoseconds
/// (`CLOCK_THREAD_CPUTIME_ID`): a system call, unlike the monotonic clock.
pub(crate) fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    debug_assert_eq!(status, 0);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The machine's monotonic clock in nanoseconds (`CLOCK_MONOTONIC`, the
/// clock `Instant` reads), which a worker and its supervisor share: a job's
/// start, read in the worker, is placed on the supervisor's run timeline.
pub(crate) fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    debug_assert_eq!(status, 0);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The machine's CPU time so far, from the first line of `/proc/stat`, in
/// clock ticks: (idle, total). Idle counts `idle` and `iowait`. `None` off
/// Linux or if the file does not read as expected.
pub(crate) fn machine_cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_ticks(stat.lines().next()?)
}

/// Reads `cpu  user nice system idle iowait irq softirq steal ...`.
pub(crate) fn parse_cpu_ticks(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // guest and guest_nice are already counted in user and nice.
    let ticks: Vec<u64> = fields.take(8).map(str::parse).collect::<Result<_, _>>().ok()?;
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((idle, ticks.iter().sum()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_ticks_count_iowait_as_idle() {
        let line = "cpu  100 5 50 800 40 3 2 0 0 0";
        assert_eq!(super::parse_cpu_ticks(line), Some((840, 1000)));
        assert_eq!(super::parse_cpu_ticks("cpu0 1 2 3 4"), None);
        assert!(super::machine_cpu_ticks().is_some(), "/proc/stat reads on Linux");
    }
}
