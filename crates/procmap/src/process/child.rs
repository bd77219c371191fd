//! One worker process as the dispatcher sees it: spawning it, the helper
//! threads that turn its channel and stderr into events, signalling and
//! reaping it. What the dispatcher knows about its jobs is its
//! [`WorkerState`], in `state.rs`.

use super::event::{Event, EventKind};
use super::state::{KillReason, Phase, WorkerState};
use crate::channel::Bootstrap;
use crate::unix;
use crossbeam_channel::Sender;
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use procmap_wire as wire;
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A worker's process: our child, or forked by a template process.
pub(crate) enum Proc {
    Child(Child),
    /// Not our child: its status comes from the template (see `zygote.rs`).
    Forked {
        status: Arc<super::zygote::Status>,
    },
}

impl Proc {
    /// Its exit status, if it has ended (and, for a child, is reaped).
    fn try_wait(&mut self) -> std::io::Result<Option<unix::Exit>> {
        match self {
            Proc::Child(child) => Ok(child.try_wait()?.map(Into::into)),
            Proc::Forked { status } => Ok(status.get()),
        }
    }

    /// Waits for its end, after a SIGKILL.
    fn wait(&mut self) -> unix::Exit {
        match self {
            Proc::Child(child) => child.wait().map_or(unix::Exit::Code(-1), Into::into),
            Proc::Forked { status } => status.wait(Duration::from_secs(10)).unwrap_or(unix::Exit::Code(-1)),
        }
    }
}

/// How much of a worker's stderr is kept to explain its death.
const STDERR_TAIL_BYTES: usize = 4096;

/// How a worker process is started.
pub(crate) struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [std::ffi::OsString],
    /// Forked by this template instead (see `zygote.rs`).
    pub zygote: Option<&'a Path>,
    pub output: Option<crate::WorkerOutput>,
    pub mem_limit: Option<u64>,
    /// The worker's marker file (see `crate::marker`).
    pub marker: Option<PathBuf>,
}

pub(crate) struct Worker {
    pub slot: usize,
    pub generation: u64,
    pub pid: u32,
    pub child: Proc,
    /// It said in its hello that it marks each job it starts.
    pub marks: bool,
    /// The threads it was told to run, in its hello or since ...
    pub threads: usize,
    /// ... and the most it was ever told: what blame assumes it ran.
    pub threads_max: usize,
    pub state: WorkerState,
    pub server_name: String,
    pub tx: Option<IpcBytesSender>,
    /// Whether the process has been reaped: from then on its pid may
    /// belong to another process and must not be signalled.
    pub exited: bool,
    /// When the dispatcher first saw it exited while it looked alive.
    pub exited_at: Option<Instant>,
    /// When to follow an earlier SIGTERM with SIGKILL.
    pub kill_deadline: Option<Instant>,
    pub stderr: Arc<Mutex<Tail>>,
    /// The thread waiting in accept(); it owns the server's temporary
    /// directory, which it removes when it returns.
    pub accept: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Spawns `program` with `args` and starts the thread that waits for it to connect.
    pub(crate) fn spawn(
        launch: &Launch<'_>,
        slot: usize,
        generation: u64,
        events: &Sender<Event>,
    ) -> std::io::Result<Worker> {
        let (server, server_name) = IpcOneShotServer::<Bootstrap>::new()?;
        let (stderr_read, stderr_write) = std::io::pipe()?;
        let Launch { program, args, zygote, output, mem_limit, marker } = launch;
        let (child, pid) = match zygote {
            Some(socket) => {
                let (pid, status) = super::zygote::fork(
                    socket,
                    &server_name,
                    *mem_limit,
                    marker.as_deref(),
                    stderr_write.into(),
                )?;
                (Proc::Forked { status }, pid)
            }
            None => {
                let mut cmd = Command::new(program);
                cmd.args(*args)
                    .env(wire::SERVER_ENV, &server_name)
                    // Symbolizing a backtrace on every caught panic costs 50-210 ms.
                    .env("RUST_BACKTRACE", "0")
                    .envs(marker.iter().map(|path| (crate::marker::ENV, path)))
                    .stdin(Stdio::null())
                    // A task's prints must never reach the journal on our stdout.
                    .stdout(stderr_write.try_clone()?)
                    .stderr(stderr_write);
                unix::configure(&mut cmd, *mem_limit);
                let child = cmd.spawn()?;
                drop(cmd);
                let pid = child.id();
                (Proc::Child(child), pid)
            }
        };

        let stderr = Arc::new(Mutex::new(Tail::default()));
        spawn_stderr_reader(pid, stderr_read, Arc::clone(&stderr), output.clone())?;
        let events = events.clone();
        let accept = std::thread::Builder::new().name(format!("accept-{pid}")).spawn(move || {
            let kind = match server.accept() {
                Ok((_, bootstrap)) => EventKind::Connected(bootstrap.to_worker, bootstrap.from_worker),
                Err(e) => EventKind::ConnectFailed(e),
            };
            let _ = events.send(Event { slot, generation, kind });
        })?;

        Ok(Worker {
            accept: Some(accept),
            slot,
            generation,
            pid,
            child,
            marks: false,
            threads: 1,
            threads_max: 1,
            state: WorkerState::new(Instant::now()),
            server_name,
            tx: None,
            exited: false,
            exited_at: None,
            kill_deadline: None,
            stderr,
        })
    }

    /// It is told to run `threads` threads. From several threads on, its
    /// marker is not read again: it may have switched already when it dies.
    pub(crate) fn set_threads(&mut self, threads: usize) {
        self.threads = threads;
        self.threads_max = self.threads_max.max(threads);
        if threads > 1 {
            self.marks = false;
        }
    }

    /// Starts the thread that forwards this worker's messages as events.
    pub(crate) fn start_reader(&self, rx: IpcBytesReceiver, events: &Sender<Event>) -> std::io::Result<()> {
        let (slot, generation) = (self.slot, self.generation);
        let events = events.clone();
        std::thread::Builder::new().name(format!("reader-{}", self.pid)).spawn(move || {
            loop {
                let kind = match rx.recv() {
                    Ok(bytes) => match wire::decode(&bytes) {
                        Ok(msg) => EventKind::Message(msg),
                        Err(e) => EventKind::Garbled(e),
                    },
                    Err(_) => EventKind::Closed,
                };
                let last = !matches!(kind, EventKind::Message(_));
                if events.send(Event { slot, generation, kind }).is_err() || last {
                    return;
                }
            }
        })?;
        Ok(())
    }

    /// SIGTERM to the worker's group now, SIGKILL after `grace` if it is
    /// still there. The first reason given is the one reported.
    pub(crate) fn terminate(&mut self, reason: KillReason, grace: Duration) {
        self.state.killed(reason);
        if self.kill_deadline.is_none() && !self.has_exited() {
            unix::signal_group(self.pid, libc::SIGTERM);
            self.kill_deadline = Some(Instant::now() + grace);
        }
        self.unblock_accept();
    }

    pub(crate) fn kill_now(&mut self, reason: KillReason) {
        self.state.killed(reason);
        if !self.has_exited() {
            unix::signal_group(self.pid, libc::SIGKILL);
        }
        self.kill_deadline = None;
        self.unblock_accept();
    }

    /// Whether the process has ended (and is reaped: std keeps its status).
    /// Before reaping it, whatever it left running in its process group is
    /// killed: a job's own children must not outlive its worker.
    pub(crate) fn has_exited(&mut self) -> bool {
        if !self.exited {
            if unix::exited_unreaped(self.pid) {
                unix::signal_group(self.pid, libc::SIGKILL);
            }
            self.exited = matches!(self.child.try_wait(), Ok(Some(_)));
        }
        self.exited
    }

    /// Unblocks the accept thread of a worker that will never connect (it
    /// died, or we gave up on it) by connecting to its server ourselves.
    pub(crate) fn unblock_accept(&self) {
        if self.state.phase == Phase::Connecting {
            let _ = IpcSender::<Bootstrap>::connect(self.server_name.clone());
        }
    }

    /// SIGKILL after the grace period, unless the process is gone.
    pub(crate) fn escalate(&mut self, now: Instant) {
        if self.kill_deadline.is_some_and(|d| now >= d) {
            if !self.has_exited() {
                unix::signal_group(self.pid, libc::SIGKILL);
            }
            self.kill_deadline = None;
        }
    }

    /// Waits for the process to end after its channel closed, killing it if
    /// it lingers; the channel closes when the process exits, so this
    /// rarely waits at all.
    pub(crate) fn reap(&mut self) -> unix::Exit {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            self.has_exited();
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                Ok(None) => {
                    // Still unreaped, so the pid is still this process's.
                    unix::signal_group(self.pid, libc::SIGKILL);
                    return self.child.wait();
                }
                Err(_) => return unix::Exit::Code(-1),
            }
        }
    }

    /// Whether the accept thread is done (it then removed the server's
    /// temporary directory), joining it if so. A worker killed before it
    /// connected was connected to by us to unblock it.
    pub(crate) fn accept_done(&mut self) -> bool {
        match &self.accept {
            None => true,
            Some(handle) if handle.is_finished() => {
                let _ = self.accept.take().map(std::thread::JoinHandle::join);
                true
            }
            Some(_) => false,
        }
    }

    /// Waits briefly for the accept thread (see [`Worker::accept_done`]).
    pub(crate) fn join_accept(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.accept_done() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The end of what the worker wrote to stderr. Called once it is dead:
    /// waits (briefly) until the stderr thread has read to the end, so that
    /// a last "memory allocation failed" is not lost to a busy machine.
    pub(crate) fn stderr_tail(&self) -> String {
        let deadline = Instant::now() + STDERR_DRAIN;
        loop {
            let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
            // Something it left running may hold the pipe open: then the
            // deadline decides.
            if tail.closed || Instant::now() >= deadline {
                return tail.text();
            }
            drop(tail);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// How long to wait for the end of a dead worker's stderr.
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// The last few KiB of a worker's stderr.
#[derive(Default)]
pub(crate) struct Tail {
    buf: VecDeque<u8>,
    /// The pipe reached its end: everything the worker wrote is here.
    closed: bool,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        let excess = self.buf.len().saturating_sub(STDERR_TAIL_BYTES);
        self.buf.drain(..excess);
    }

    pub(crate) fn text(&self) -> String {
        let (a, b) = self.buf.as_slices();
        let bytes = [a, b].concat();
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }
}

fn spawn_stderr_reader(
    pid: u32,
    mut pipe: std::io::PipeReader,
    tail: Arc<Mutex<Tail>>,
    output: Option<crate::WorkerOutput>,
) -> std::io::Result<()> {
    std::thread::Builder::new().name(format!("stderr-{pid}")).spawn(move || {
        let mut buf = [0u8; 4096];
        let mut lines = output.map(|output| Lines { output, pid, partial: Vec::new() });
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => {
                    if let Some(lines) = lines.as_mut() {
                        lines.finish();
                    }
                    tail.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
                    return;
                }
                Ok(n) => {
                    if let Some(lines) = lines.as_mut() {
                        lines.push(&buf[..n]);
                    }
                    tracing::debug!(
                        worker = pid,
                        "stderr: {}",
                        String::from_utf8_lossy(&buf[..n]).trim_end()
                    );
                    tail.lock().unwrap_or_else(|p| p.into_inner()).push(&buf[..n]);
                }
            }
        }
    })?;
    Ok(())
}

/// A worker's stderr cut into lines for [`crate::WorkerOutput`]. A line
/// longer than [`LINE_LIMIT`] is handed over in pieces, so that memory
/// stays bounded whatever a task prints.
struct Lines {
    output: crate::WorkerOutput,
    pid: u32,
    partial: Vec<u8>,
}

const LINE_LIMIT: usize = 16 * 1024;

impl Lines {
    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.emit();
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= LINE_LIMIT {
            self.emit();
        }
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }

    fn emit(&mut self) {
        (self.output.0)(self.pid, &String::from_utf8_lossy(&self.partial));
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_whole_across_reads_and_long_ones_in_bounded_pieces() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let output = crate::WorkerOutput(Arc::new(move |pid, line: &str| {
            sink.lock().unwrap().push(format!("{pid}:{line}"));
        }));
        let mut lines = Lines { output, pid: 7, partial: Vec::new() };
        lines.push(b"one\ntw");
        lines.push(b"o\n\nthree");
        lines.finish();
        assert_eq!(*got.lock().unwrap(), ["7:one", "7:two", "7:", "7:three"]);
        got.lock().unwrap().clear();
        let half = vec![b'x'; LINE_LIMIT / 2 + 1];
        lines.push(&half);
        assert!(got.lock().unwrap().is_empty(), "a partial line under the limit waits");
        lines.push(&half);
        lines.push(b"tail");
        lines.finish();
        let pieces = got.lock().unwrap().clone();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), 2 + 2 * half.len(), "handed over once the limit is passed");
        assert_eq!(pieces[1], "7:tail");
    }
}
