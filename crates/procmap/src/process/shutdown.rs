//! Ending a run: every worker stopped and reaped under one deadline.

use super::*;
use state::Phase;

/// How long stopping may wait for workers to exit and helper threads to
/// finish before it kills what is left and returns anyway.
pub(super) const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

impl Dispatcher {
    /// Ends every worker: politely if idle, by SIGKILL otherwise, and reaps
    /// them all before returning. It never waits on one worker at a time,
    /// and it drains the event channel meanwhile: accept and reader threads
    /// blocked on a full channel would otherwise never finish.
    pub(super) fn shutdown_all(&mut self) {
        let mut workers: Vec<Worker> = self.slots.iter_mut().filter_map(Option::take).collect();
        for worker in &mut workers {
            worker.tx = None;
            if !worker.state.is_idle() || worker.state.phase != Phase::Ready {
                worker.kill_now(KillReason::Stop);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut killed = false;
        while !workers.is_empty() {
            while self.events_rx.try_recv().is_ok() {}
            workers.retain_mut(|w| !(w.has_exited() && w.accept_done()));
            if !killed && Instant::now() >= deadline {
                // Idle workers that did not exit when told: no more waiting.
                for worker in &mut workers {
                    worker.kill_now(KillReason::Stop);
                }
                killed = true;
            } else if killed && Instant::now() >= deadline + SHUTDOWN_WAIT {
                // Only accept threads can be left (a worker that never
                // connected and whose server we could not reach): their
                // temporary directories stay behind.
                tracing::warn!(left = workers.len(), "workers' helper threads did not finish");
                for worker in &mut workers {
                    worker.reap();
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
