//! Ctrl-C during `supervisor compare`.
//!
//! Each measured run is started in a process group of its own, so a Ctrl-C
//! at the terminal reaches only `compare`, which passes every SIGINT/SIGTERM
//! on to the run in progress exactly once. The run then behaves as it does
//! on its own (the first signal lets jobs in flight finish, the second kills
//! the workers), and `compare` stops measuring, removes its scratch
//! directory and exits 130. Without the separate group the run would get a
//! terminal Ctrl-C twice, once directly and once forwarded, and kill its
//! workers at the first press.

use anyhow::Context as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub struct Interrupt {
    signals: Arc<AtomicU64>,
    /// The pid of the run in progress; 0 between runs.
    child: Arc<AtomicU32>,
}

impl Interrupt {
    pub fn install() -> anyhow::Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .context("cannot install signal handlers")?;
        let interrupt = Interrupt { signals: Arc::default(), child: Arc::default() };
        let (count, child) = (Arc::clone(&interrupt.signals), Arc::clone(&interrupt.child));
        std::thread::Builder::new()
            .name("compare-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    // Counted before the pid is read: see `set_child`.
                    count.fetch_add(1, Ordering::SeqCst);
                    forward(child.load(Ordering::SeqCst), signal);
                }
            })
            .context("cannot start the signal thread")?;
        Ok(interrupt)
    }

    pub fn interrupted(&self) -> bool {
        self.signals.load(Ordering::SeqCst) > 0
    }

    /// Records the run in progress (`None` once it has been waited for).
    /// A signal that arrived just before the pid was stored found no child
    /// to forward to, so it is forwarded here.
    pub fn set_child(&self, pid: Option<u32>) {
        let pid = pid.unwrap_or(0);
        self.child.store(pid, Ordering::SeqCst);
        if pid != 0 && self.interrupted() {
            forward(pid, libc::SIGINT);
        }
    }
}

fn forward(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid > 0 {
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is
        // our own child: until it is waited for it stays a zombie and its
        // pid cannot be reused, and it is cleared right after the wait.
        unsafe { libc::kill(pid, signal) };
    }
}
