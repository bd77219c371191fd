//! Workers forked from a template process (a zygote) instead of spawned.
//!
//! A Python worker spawned afresh costs an interpreter's start and the
//! import of the user's modules; one forked from a process that has them
//! already costs a fork. The template is the caller's (the Python package
//! starts it, see `python/procmap/_zygote.py`); here is the client side of
//! its protocol, over a Unix socket, one connection per worker:
//!
//! - we send `SERVER MEM_LIMIT MARKER\n` (the one-shot server's name, the
//!   memory limit in bytes or 0, the worker's marker file or `-`, see
//!   `crate::marker`) with the write end of the worker's stderr pipe
//!   attached (`SCM_RIGHTS`);
//! - it forks a worker (its own process group, the limit set, stderr and
//!   stdout on the pipe) and answers `pid N\n`, or `error TEXT\n`;
//! - when the worker has ended it kills what is left in the worker's process
//!   group, reaps the worker and sends `exit N\n` or `signal N\n`.
//!
//! The worker is not our child, so its exit status comes from that last line
//! rather than from `waitpid`.

use crate::unix::Exit;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the template may take to fork and answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A forked worker's exit status, once the template has sent it.
#[derive(Default)]
pub(crate) struct Status {
    exit: Mutex<Option<Exit>>,
    arrived: Condvar,
}

impl Status {
    pub(crate) fn get(&self) -> Option<Exit> {
        self.exit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `limit` for the status.
    pub(crate) fn wait(&self, limit: Duration) -> Option<Exit> {
        let deadline = Instant::now() + limit;
        let mut exit = self.exit.lock().unwrap_or_else(|p| p.into_inner());
        while exit.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            exit = self.arrived.wait_timeout(exit, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        exit.clone()
    }

    fn set(&self, value: Exit) {
        *self.exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        self.arrived.notify_all();
    }
}

/// Asks the template at `socket` for a worker; returns its pid and where
/// its exit status will arrive.
pub(crate) fn fork(
    socket: &Path,
    server: &str,
    mem_limit: Option<u64>,
    marker: Option<&Path>,
    stderr: OwnedFd,
) -> io::Result<(u32, Arc<Status>)> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    // The marker's path goes last, as the rest of the line (it may hold
    // spaces); "-" for none.
    let marker = marker.map_or_else(|| "-".to_owned(), |p| p.display().to_string());
    let request = format!("{server} {} {marker}\n", mem_limit.unwrap_or(0));
    send_with_fd(&stream, request.as_bytes(), &stderr)?;
    drop(stderr);
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let pid = match line.trim_end().split_once(' ') {
        Some(("pid", pid)) => pid.parse::<u32>().map_err(|_| bad_answer(&line))?,
        Some(("error", text)) => {
            return Err(io::Error::other(format!("the worker template could not fork: {text}")));
        }
        _ => return Err(bad_answer(&line)),
    };
    reader.get_ref().set_read_timeout(None)?;
    let status = Arc::new(Status::default());
    let waiting = Arc::clone(&status);
    std::thread::Builder::new().name(format!("zygote-{pid}")).spawn(move || {
        let mut line = String::new();
        let exit = match reader.read_line(&mut line) {
            Ok(_) => parse_exit(&line),
            Err(_) => None,
        };
        // No answer: the template itself died, and with it (PDEATHSIG)
        // the worker.
        waiting.set(exit.unwrap_or(Exit::Signal(libc::SIGKILL)));
    })?;
    Ok((pid, status))
}

fn parse_exit(line: &str) -> Option<Exit> {
    let (kind, n) = line.trim_end().split_once(' ')?;
    let n = n.parse().ok()?;
    match kind {
        "exit" => Some(Exit::Code(n)),
        "signal" => Some(Exit::Signal(n)),
        _ => None,
    }
}

fn bad_answer(line: &str) -> io::Error {
    io::Error::other(format!("the worker template answered {line:?}, not a pid"))
}

/// Writes `bytes` with `fd` attached as `SCM_RIGHTS` (std has no stable
/// API for ancillary data).
fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: msghdr is plain data; every pointer set below outlives the
    // sendmsg call, and the control buffer is CMSG_SPACE bytes for one fd.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::copy_nonoverlapping(
            &raw as *const libc::c_int as *const u8,
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<libc::c_int>(),
        );
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    if (sent as usize) < bytes.len() {
        // The request is a few dozen bytes: the rest goes as plain data.
        (&*stream).write_all(&bytes[sent as usize..])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_lines_parse_and_anything_else_does_not() {
        assert_eq!(parse_exit("exit 3\n"), Some(Exit::Code(3)));
        assert_eq!(parse_exit("signal 11\n"), Some(Exit::Signal(11)));
        assert_eq!(parse_exit("exit x\n"), None);
        assert_eq!(parse_exit("pid 4\n"), None);
        assert_eq!(parse_exit(""), None);
    }
}
