//! What jobs leave outside their worker's process group: a child in a
//! session of its own (`setsid`, Python's `start_new_session=True`), or a
//! daemon's double fork. Killing the worker's group does not reach them,
//! and without a subreaper they are re-parented to init when their parent
//! ends, where nothing ever kills them.
//!
//! With [`crate::PoolBuilder::kill_leftovers`], this process is a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`) while the run lasts: such orphans
//! are re-parented here instead. The process's only other children are the
//! pool's workers, so every child that is not a live worker is a leftover.
//! The dispatcher kills them when a worker ends and when the run ends, and
//! reaps those that end by themselves, so none stays a zombie.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How long killing leftovers mid-run waits for them to be reaped; those
/// slower are reaped by [`reap_exited`] on a later turn of the loop.
const REAP_WAIT: Duration = Duration::from_millis(50);

/// How long the end of a run keeps killing: each killed leftover's own
/// children come here in turn, one generation at a time.
const END_WAIT: Duration = Duration::from_secs(1);

/// Makes this process a child subreaper, or stops it being one.
pub(crate) fn set_subreaper(on: bool) -> std::io::Result<()> {
    // SAFETY: prctl with this option reads only its integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on), 0, 0, 0) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// The parent pid in the text of `/proc/PID/stat`. The command name, in
/// parentheses, may itself hold spaces and parentheses, so the fields are
/// counted from the last `)`: state, then the parent.
pub(crate) fn parent_in_stat(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// How leftovers are looked for.
#[derive(Clone, Copy)]
pub(crate) enum Search {
    /// Mid-run, on every worker's death: the children of this process's
    /// main thread only, which is where the kernel re-parents orphans (its
    /// first live thread) and where no worker is (workers are the
    /// dispatcher thread's). One small read, where scanning every
    /// process's stat cost about 0.5 ms per death with 90 processes on the
    /// machine: 10% of a run that replaces its worker after every job.
    Quick,
    /// At the run's end: every process's parent, from `/proc/*/stat`.
    Thorough,
}

/// This process's children that are not in `workers`.
fn children_besides(workers: &HashSet<u32>, search: Search) -> Vec<u32> {
    let me = std::process::id();
    if let Search::Quick = search
        && let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{me}/children"))
    {
        return text
            .split_ascii_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| !workers.contains(p))
            .collect();
    }
    // No `children` file (a kernel without CONFIG_PROC_CHILDREN), or the
    // end of the run.
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && !workers.contains(pid))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            parent_in_stat(&stat) == Some(me)
        })
        .collect()
}

/// Kills every child that is not one of `workers`, with its process group
/// (a session leader leads one), and reaps it. Returns how many it killed.
pub(crate) fn kill(workers: &HashSet<u32>, search: Search) -> usize {
    let found = children_besides(workers, search);
    for &pid in &found {
        // SAFETY: kill has no memory-safety preconditions. `pid` is our
        // child and unreaped, so neither it nor its group id (which exists
        // only while the group has members) can name another process.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + REAP_WAIT;
    let mut left: Vec<u32> = found.clone();
    while !left.is_empty() && Instant::now() < deadline {
        left.retain(|&pid| !reap(pid));
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    if !found.is_empty() {
        tracing::debug!(killed = found.len(), unreaped = left.len(), "killed what ended workers left");
    }
    found.len()
}

/// At the end of a run, when no worker is left: kills leftovers until none
/// is found, since each one killed hands its own children to us.
pub(crate) fn kill_all_at_end() {
    let none = HashSet::new();
    let deadline = Instant::now() + END_WAIT;
    while kill(&none, Search::Thorough) > 0 && Instant::now() < deadline {}
}

/// Reaps children that are not `workers` and have ended by themselves (a
/// job's daemon that finished), so that none stays a zombie. Stops at the
/// first ended worker, which the dispatcher reaps itself.
pub(crate) fn reap_exited(workers: impl Fn(u32) -> bool) {
    loop {
        // SAFETY: waitid writes into the siginfo we pass; WNOWAIT leaves
        // the child waitable, so a worker's status stays for the
        // dispatcher.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
            if rc != 0 || info.si_pid() == 0 {
                return;
            }
            info.si_pid() as u32
        };
        if workers(pid) || !reap(pid) {
            return;
        }
    }
}

/// Reaps `pid` if it has ended.
fn reap(pid: u32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid writes only the status we pass.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) == pid as libc::pid_t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_the_last_parenthesis_of_the_name() {
        assert_eq!(parent_in_stat("4242 (sleep) S 17 4242 4242 0 -1"), Some(17));
        assert_eq!(parent_in_stat("4242 (a) b (c) S 99 1 1 0"), Some(99));
        assert_eq!(parent_in_stat("4242 (x y) Z 1 0"), Some(1));
        assert_eq!(parent_in_stat("4242 (torn"), None);
        assert_eq!(parent_in_stat(""), None);
    }
}
