//! Each job's own output: what a job writes to its stdout and stderr, kept
//! per job ([`Capture`]), under `Hello::capture`.
//!
//! For the worker's whole life fd 1 and fd 2 are pipes (`sys.rs`). A
//! capture thread reads both as they fill, so a job that prints a lot never
//! blocks, writes everything through to the worker's original stderr (the
//! supervisor's pipe, whose tail explains a death), and keeps the current
//! job's share: the last 4 KiB of each stream (`ring.rs`), or a file per
//! stream and job. When a job ends, [`Capture::end`] flushes the job's
//! buffers, then, under the lock the capture thread holds while it works,
//! drains the pipes without blocking and takes the job's share.
//!
//! A job that wrote nothing costs no system call: a write to either pipe
//! raises SIGIO in the job's thread before the write returns, and the
//! handler sets a flag; a job end that finds the flag clear has nothing to
//! collect. (Without SIGIO, each job end reads both pipes.) A task's child
//! that keeps the pipes open costs nothing either: nothing ever waits for
//! their end. What a background writer (a child, another thread) writes
//! after its job ended goes to the next job that writes.
//!
//! A crash handler (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) and an
//! `atexit` hook copy what is still in the pipes to the supervisor before
//! the process dies, and point fd 1 and 2 back at it, so that the crash
//! record's stderr shows the job's last words, and Python's faulthandler,
//! which writes to fd 2, is heard. Only a SIGKILL (a timeout's, the OOM
//! killer's) can lose what the capture thread had not read yet.

mod ring;
mod sys;

use crate::task::Registry;
use procmap_wire::{Capture as Mode, Captured, Job, JobResult};
use ring::Ring;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The capture of this worker process, once [`install`]ed.
static CURRENT: OnceLock<Capture> = OnceLock::new();

/// Why output cannot be captured.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot redirect the worker's stdout and stderr to pipes")]
    Redirect(#[source] std::io::Error),
    #[error("cannot start the thread that reads the worker's output")]
    Thread(#[source] std::io::Error),
}

/// A worker's capture of its jobs' stdout and stderr.
pub struct Capture {
    shared: Arc<Shared>,
    /// Whether SIGIO says when a job wrote (see the module's docs).
    signalled: bool,
}

struct Shared {
    streams: Mutex<[Stream; 2]>,
    /// The job (or item) whose output the files get.
    current: AtomicU64,
    read: [OwnedFd; 2],
    /// The pipe's write ends are all closed: it is not polled any more.
    closed: [AtomicBool; 2],
    original: RawFd,
}

/// One of the two streams: where its bytes go besides the supervisor.
enum Stream {
    Tail(Ring),
    Files {
        dir: PathBuf,
        extension: &'static str,
        /// The file of the job it is writing, by the job's id.
        open: Option<(u64, File)>,
        /// The job whose file was opened last: its file is appended to
        /// (a child's late output), any other job's is started afresh (a
        /// rerun's).
        last: Option<u64>,
    },
}

/// Starts capturing on the calling thread, which is the one that runs
/// jobs, as `mode` says; `Mode::None` does nothing. Once per process.
pub fn install(mode: &Mode) -> Result<Option<&'static Capture>, CaptureError> {
    let streams = match mode {
        Mode::None => return Ok(None),
        Mode::Tail => [Stream::Tail(Ring::new()), Stream::Tail(Ring::new())],
        Mode::Files(dir) => [Stream::files(dir, "out"), Stream::files(dir, "err")],
    };
    let redirect = sys::redirect().map_err(CaptureError::Redirect)?;
    let shared = Arc::new(Shared {
        streams: Mutex::new(streams),
        current: AtomicU64::new(0),
        read: redirect.read,
        closed: [AtomicBool::new(false), AtomicBool::new(false)],
        original: redirect.original,
    });
    let reader = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || reader.read_loop())
        .map_err(CaptureError::Thread)?;
    let capture = Capture { shared, signalled: redirect.signalled };
    Ok(Some(CURRENT.get_or_init(|| capture)))
}

/// This process's capture, if [`install`] started one: for a task that
/// captures each of its own items (see [`crate::Task::captures_output`]).
pub fn current() -> Option<&'static Capture> {
    CURRENT.get()
}

impl Capture {
    /// What the job or item `id` writes from now on is its own (the name
    /// of its files).
    pub fn begin(&self, id: u64) {
        self.shared.current.store(id, Ordering::Release);
    }

    /// The end of a job or item: its buffers flushed, what it wrote taken.
    /// Returns the ends of its streams under `Mode::Tail`, nothing under
    /// `Mode::Files`, whose files are closed.
    pub fn end(&self) -> Captured {
        sys::flush_stdio();
        if self.signalled && !sys::DIRTY.load(Ordering::Acquire) {
            return Captured::default();
        }
        // Cleared before the pipes are read: a write after the drain sets
        // it again, for the next job.
        sys::DIRTY.store(false, Ordering::Release);
        let mut streams = self.shared.lock();
        // Bounded, so that a task's child that never stops writing cannot
        // hold its job's end: 16 reads of 16 KiB hold more than a pipe,
        // so everything written before the end is read.
        self.shared.drain(&mut streams, 16);
        let [out, err] = &mut *streams;
        Captured { stdout: out.take(), stderr: err.take() }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, [Stream; 2]> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The capture thread: reads whatever comes, so that a job never
    /// blocks on a full pipe.
    fn read_loop(&self) {
        loop {
            let fds: [RawFd; 2] = std::array::from_fn(|k| match self.closed[k].load(Ordering::Acquire) {
                true => -1,
                false => self.read[k].as_raw_fd(),
            });
            if fds == [-1, -1] {
                return;
            }
            sys::wait_readable(&fds);
            let mut streams = self.lock();
            // A bounded round, so that a job's end never waits long
            // behind a flood.
            self.drain(&mut streams, 16);
        }
    }

    /// Reads what both pipes hold now (at most `rounds` reads each) into
    /// their streams, writing it through to the supervisor.
    fn drain(&self, streams: &mut [Stream; 2], rounds: usize) {
        let mut buf = [0u8; 16 * 1024];
        let current = self.current.load(Ordering::Acquire);
        for (k, (stream, read)) in streams.iter_mut().zip(&self.read).enumerate() {
            for _ in 0..rounds {
                let n = match sys::read_now(read.as_raw_fd(), &mut buf) {
                    sys::Read::Bytes(n) => n,
                    sys::Read::Empty => break,
                    sys::Read::Closed => {
                        self.closed[k].store(true, Ordering::Release);
                        break;
                    }
                };
                sys::DIRTY.store(true, Ordering::Release);
                sys::write_all(self.original, &buf[..n]);
                stream.push(current, &buf[..n], self.original);
            }
        }
    }
}

impl Stream {
    fn files(dir: &Path, extension: &'static str) -> Self {
        Stream::Files { dir: dir.to_owned(), extension, open: None, last: None }
    }

    fn push(&mut self, current: u64, bytes: &[u8], original: RawFd) {
        match self {
            Stream::Tail(ring) => ring.push(bytes),
            Stream::Files { dir, extension, open, last } => {
                if open.as_ref().is_none_or(|(id, _)| *id != current) {
                    let path = file_name(dir, current, extension);
                    let again = *last == Some(current);
                    *last = Some(current);
                    let opened = std::fs::OpenOptions::new()
                        .create(true)
                        .write(true)
                        .append(again)
                        .truncate(!again)
                        .open(&path);
                    *open = match opened {
                        Ok(file) => Some((current, file)),
                        Err(e) => {
                            // Said where the supervisor keeps a worker's
                            // last words; the bytes are lost.
                            let text = format!("procmap worker: cannot write {}: {e}\n", path.display());
                            sys::write_all(original, text.as_bytes());
                            None
                        }
                    };
                }
                if let Some((_, file)) = open
                    && let Err(e) = file.write_all(bytes)
                {
                    let text = format!("procmap worker: cannot write {}.{extension}: {e}\n", current);
                    sys::write_all(original, text.as_bytes());
                    *open = None;
                }
            }
        }
    }

    /// The job's share: its tail, or nothing once its file is closed.
    fn take(&mut self) -> Vec<u8> {
        match self {
            Stream::Tail(ring) => ring.take(),
            Stream::Files { open, .. } => {
                *open = None;
                Vec::new()
            }
        }
    }
}

/// `DIR/<id>.<extension>`: the job's line, or the item's index.
pub fn file_name(dir: &Path, id: u64, extension: &str) -> PathBuf {
    dir.join(format!("{id}.{extension}"))
}

/// The capture of a worker's jobs, as its job loop uses it.
pub(crate) struct ForJobs<'a> {
    capture: &'a Capture,
    /// Some task captures its own items' output: look each job's task up.
    /// (Looking up every job's task costs a tenth of a tiny job.)
    ask_tasks: bool,
}

impl<'a> ForJobs<'a> {
    pub(crate) fn new(capture: Option<&'a Capture>, registry: &Registry) -> Option<Self> {
        capture.map(|capture| ForJobs { capture, ask_tasks: registry.some_capture_output() })
    }

    /// Runs `job` with its output captured, unless its task captures its
    /// own items' output.
    pub(crate) fn run(&self, registry: &Registry, job: &Job, run: impl FnOnce() -> JobResult) -> JobResult {
        if self.ask_tasks && registry.get(&job.task).is_some_and(|t| t.captures_output()) {
            return run();
        }
        self.capture.begin(job.id);
        let mut result = run();
        let output = self.capture.end();
        result.output = (!output.is_empty()).then(|| Box::new(output));
        result
    }
}
