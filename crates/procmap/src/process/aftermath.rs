//! A worker's death: reaping it, cleaning up after it, carrying out what
//! [`super::blame`] decides, and replacing it.

use super::*;
use crate::death::WorkerDeath;
use crate::error::StartFailure;

/// How long to wait before retrying a spawn that failed mid-run.
pub(super) const RESPAWN_DELAY: Duration = Duration::from_millis(200);

/// Consecutive workers that may fail to start before the run gives up
/// instead of respawning forever. Deaths before the handshake count (see
/// `WorkerState::failed_start` for the one other case): a worker that said
/// hello has started, and its death later is a crash of whatever it ran (or
/// of nothing, when the OOM killer picks an idle one).
pub(super) const MAX_START_FAILURES: u32 = 3;

pub(super) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 { format!("{ms}ms") } else { format!("{:.1}s", d.as_secs_f64()) }
}

impl Dispatcher {
    /// A worker's channel closed: reap it, account for its jobs, replace it.
    pub(super) fn on_death(&mut self, slot: usize) {
        let Some(mut worker) = self.slots[slot].take() else { return };
        let _span = tracing::debug_span!("worker", slot, pid = worker.pid).entered();
        let exit = worker.reap();
        self.kill_leftovers();
        let stderr = worker.stderr_tail();
        let death = death::classify(&exit, worker.state.kill, &stderr, self.cfg.mem_limit);
        tracing::debug!(pid = worker.pid, phase = ?worker.state.phase, cause = %death, "worker ended");

        let failed_start = worker.state.failed_start(self.cfg.start_reports());
        if failed_start && !worker.state.end_expected() && self.stopping.is_none() {
            self.start_failures += 1;
            if self.start_failures >= MAX_START_FAILURES {
                self.fatal = Some(PoolError::WorkerStart {
                    program: self.cfg.program.clone(),
                    failure: StartFailure::Died { pid: worker.pid, cause: death },
                    stderr,
                });
                return;
            }
        }

        self.remove_temp_files(&worker);
        if worker.state.kill != Some(KillReason::Stop) && self.stopping.is_none() {
            self.requeue(&mut worker, &death, &stderr);
        }
        self.respawn(slot);
    }

    /// Kills what ended workers left outside their process groups, if
    /// asked to (see `leftovers.rs`): reaped just now, the worker's
    /// children in sessions of their own have been handed to us.
    pub(super) fn kill_leftovers(&self) {
        if self.cfg.kill_leftovers {
            leftovers::kill(&self.live_pids(), leftovers::Search::Quick);
        }
    }

    /// The pids of the workers not reaped yet.
    pub(super) fn live_pids(&self) -> std::collections::HashSet<u32> {
        self.slots.iter().flatten().map(|w| w.pid).collect()
    }

    /// A worker that died mid-write leaves its output's temporary file: for
    /// each job it had in flight without a result, remove those of this pid.
    pub(super) fn remove_temp_files(&self, worker: &Worker) {
        for chunk in &worker.state.inflight {
            for tracked in chunk.unfinished() {
                for output in self.feeder.outputs(&tracked.job) {
                    let n = crate::task::remove_temp_files(&output, worker.pid);
                    if n > 0 {
                        tracing::debug!(pid = worker.pid, output = %output.display(), "removed {n} temporary file(s)");
                    }
                }
            }
        }
    }

    /// Replaces the worker of `slot` if there is work left. A failure to
    /// spawn mid-run (fork's EAGAIN, no file descriptors left) may pass: it
    /// counts as a failed start and is retried shortly.
    pub(super) fn respawn(&mut self, slot: usize) {
        if !self.more_work() {
            return;
        }
        if let Err(e) = self.spawn(slot) {
            self.start_failures += 1;
            tracing::warn!("cannot replace a worker: {e}");
            if self.start_failures >= MAX_START_FAILURES {
                self.fatal = Some(e);
            } else {
                self.respawn_at.push((slot, Instant::now() + RESPAWN_DELAY));
            }
        }
    }

    /// Carries out what [`blame::blame`] decides for the jobs a dead worker
    /// had in flight: reruns go to the front of the queue, in the order
    /// given; a culprit's record goes out.
    pub(super) fn requeue(&mut self, worker: &mut Worker, death: &WorkerDeath, stderr: &str) {
        // The job the worker marked last, if it marks: exact, and without
        // a message per job. It may have finished already (the worker died
        // between jobs): then no job is to blame. 0: none started.
        let marked = match (&self.marks, worker.marks) {
            (Some(marks), true) => marks.take(worker.slot, worker.generation),
            _ => None,
        };
        let running = match marked {
            Some(id) => vec![id],
            None => worker.state.running_ids(),
        };
        let how = blame::Circumstances {
            // The most it was ever told to run: a worker told to grow may
            // have grown before it died.
            threads: worker.threads_max,
            running: (marked.is_some() || self.cfg.start_reports()).then_some(&running[..]),
            kill: worker.state.kill,
            retries: self.cfg.retries,
            by_caller: self.cfg.blame_by_caller,
        };
        let decisions = blame::blame(worker.state.take_inflight(), &how);
        let mut reruns = Vec::new();
        for decision in decisions {
            match decision {
                Decision::Innocent(jobs) | Decision::Requeue(jobs) => reruns.push(Batch::rerun(jobs, false)),
                Decision::Solo(job) => reruns.push(Batch::rerun(vec![job], true)),
                Decision::Crashed(job) => {
                    let started = worker.state.start_of(job.job.id);
                    let mut record = self.failed_record(job, Status::Crashed, worker.pid, started);
                    record.signal = death.signal().map(str::to_owned);
                    record.exit_code = death.exit_code();
                    // Every attempt ended in its worker's death (the first
                    // may have been among other suspects), so the count of
                    // deaths is the count of attempts.
                    let times = match record.attempts {
                        1 => "its worker died on its only attempt".to_owned(),
                        n => format!("its worker died on each of its {n} attempts"),
                    };
                    record.error = Some(format!("{times}; the last time worker {} {death}", worker.pid));
                    record.stderr = non_empty(stderr);
                    self.out_buf.push(record);
                }
                Decision::TimedOut { job, after } => {
                    let limit = self.cfg.timeout.unwrap_or(after);
                    let started = worker.state.start_of(job.job.id);
                    let mut record = self.failed_record(job, Status::Timeout, worker.pid, started);
                    record.error = Some(format!(
                        "timed out: ran {} (limit {}); worker {} was killed and replaced",
                        human_duration(after),
                        human_duration(limit),
                        worker.pid
                    ));
                    record.stderr = non_empty(stderr);
                    // How long it ran before it was killed: what a timeline
                    // draws, and what its worker spent on it.
                    record.ms = Some(after.as_nanos() as f64 / 1e6);
                    self.out_buf.push(record);
                }
            }
        }
        for batch in reruns.into_iter().rev() {
            self.retry.push_front(batch);
        }
    }

    /// The record of a job that killed its worker or ran out of time,
    /// placed on the run's timeline when it started: by the worker's start
    /// report (`started`, with `--timeout`), else when its chunk was sent.
    pub(super) fn failed_record(
        &self,
        p: Tracked,
        status: Status,
        pid: u32,
        started: Option<Instant>,
    ) -> JobRecord {
        let start = started.or(p.sent).map(|at| at.saturating_duration_since(self.started));
        let mut record = JobRecord::rejected(p.job.id, p.job.task, p.job.args, String::new());
        record.status = status;
        record.attempts = p.attempts;
        record.worker = Some(pid);
        record.start = start.map(|d| d.as_nanos() as f64 / 1e6);
        record
    }
}

#[cfg(test)]
mod tests;
