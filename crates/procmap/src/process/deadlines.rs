//! Deadlines: stop requests, handshake and job timeouts, workers that
//! exited without closing their channel, and how long the loop may sleep.

use super::*;
use state::Phase;

/// How often live workers are checked for having exited without their
/// channel closing (a job that forked keeps the channel open).
pub(super) const EXIT_POLL: Duration = Duration::from_millis(250);

impl Dispatcher {
    pub(super) fn check_stop(&mut self) {
        let level = self.stop.load(Ordering::Relaxed);
        if level >= 1 && self.stopping.is_none() {
            tracing::info!("stopping: no new jobs; waiting for jobs in flight");
            self.stopping = Some(Instant::now() + self.cfg.stop_grace);
            self.retry.clear();
        }
        let grace_over = self.stopping.is_some_and(|deadline| Instant::now() >= deadline);
        if level >= 2 || grace_over {
            for worker in self.slots.iter_mut().flatten() {
                if worker.state.kill.is_none() {
                    worker.kill_now(KillReason::Stop);
                }
            }
        }
    }

    pub(super) fn check_deadlines(&mut self) {
        let now = Instant::now();
        let poll_exits = now - self.last_exit_poll >= EXIT_POLL;
        if poll_exits {
            self.last_exit_poll = now;
        }
        let mut gone = Vec::new();
        for worker in self.slots.iter_mut().flatten() {
            match worker.state.phase {
                Phase::Connecting | Phase::Greeting => {
                    if worker.has_exited() {
                        // It died by itself (a crash at start, a bad
                        // program): report its own exit, not a kill of ours.
                        worker.unblock_accept();
                        if worker.state.phase == Phase::Connecting {
                            gone.push(worker.slot);
                        }
                    } else if now - worker.state.since > self.cfg.handshake_timeout {
                        worker.terminate(KillReason::Handshake, Duration::ZERO);
                    }
                }
                Phase::Ready | Phase::Retiring => {
                    if let Some((job, after)) = worker.state.overdue(now, self.cfg.timeout) {
                        tracing::info!(pid = worker.pid, job, "job timed out");
                        worker.terminate(KillReason::Timeout { job, after }, self.cfg.kill_grace);
                    }
                }
            }
            worker.escalate(now);
            // A worker that exited while something it left behind keeps its
            // channel open never sends Closed: notice it here instead.
            if poll_exits && worker.state.phase != Phase::Connecting {
                if let Some(at) = worker.exited_at {
                    if now - at >= EXIT_POLL {
                        gone.push(worker.slot);
                    }
                } else if worker.has_exited() {
                    worker.exited_at = Some(now);
                }
            }
        }
        for slot in gone {
            if self.slots[slot].as_ref().is_some_and(|w| w.state.phase != Phase::Connecting) {
                tracing::warn!(slot, "worker exited but its channel stayed open; treating it as dead");
            }
            self.on_death(slot);
        }
        if poll_exits && self.cfg.kill_leftovers {
            // What ended by itself after it came to us (see leftovers.rs):
            // one system call, so only as often as exits are polled.
            let slots = &self.slots;
            leftovers::reap_exited(|pid| slots.iter().flatten().any(|w| w.pid == pid));
        }
        let due: Vec<usize> =
            self.respawn_at.iter().filter(|(_, at)| now >= *at).map(|(slot, _)| *slot).collect();
        self.respawn_at.retain(|(_, at)| now < *at);
        for slot in due {
            if self.slots[slot].is_none() {
                self.respawn(slot);
            }
        }
    }

    /// How long the loop may sleep before a deadline needs checking.
    pub(super) fn next_wake(&self) -> Duration {
        let mut wake = Duration::from_millis(100);
        let now = Instant::now();
        let mut consider = |at: Instant| wake = wake.min(at.saturating_duration_since(now));
        for worker in self.slots.iter().flatten() {
            if worker.state.is_starting() {
                // Polls for a child that died before connecting.
                consider(now + Duration::from_millis(5));
            }
            if let Some(at) = worker.state.next_overrun(self.cfg.timeout) {
                consider(at);
            }
            if let Some(d) = worker.kill_deadline {
                consider(d);
            }
        }
        if let Some(d) = self.stopping {
            consider(d);
        }
        for (_, at) in &self.respawn_at {
            consider(*at);
        }
        if self.slots.iter().flatten().any(|w| w.exited_at.is_some()) {
            consider(now + EXIT_POLL);
        }
        wake.max(Duration::from_millis(1))
    }
}
