//! Process mode: the dispatcher loop.
//!
//! One thread, the dispatcher, owns every piece of the pool's state: the
//! worker processes, the chunks each has in flight, the queue of chunks to
//! rerun, and the input. Everything else reaches it as an [`Event`] on one
//! channel: a worker connected, a worker sent results, a worker's channel
//! closed. Helper threads only turn blocking calls (accept, recv) into
//! events, so the loop itself never blocks on a worker:
//!
//! ```text
//!  input ──► Feeder ──► dispatcher ──chunks──► worker 1..N (processes)
//!                         ▲   │                   │
//!            events ──────┘   └──records──► Run   │
//!   (accept, reader threads) ◄──results/closed────┘
//! ```
//!
//! Each worker has at most [`DEPTH`] chunks in flight, so it always has the
//! next chunk queued, and a hung worker holds at most that many; chunks are
//! small enough (see [`feed::CHUNK_BYTES`]) that sending them never blocks.
//!
//! When a worker dies, results that already arrived are kept. Of its first
//! chunk, the jobs without a result are suspects: one alone is the culprit;
//! several are each rerun alone, so the culprit is pinned without blaming
//! the others. Later chunks never started and are simply requeued. A culprit
//! is rerun up to `retries` times before it is recorded as `crashed`.

mod death;
mod worker;

use crate::chunking::Chunker;
use crate::feed::{CHUNK_BYTES, Feeder, job_bytes};
use crate::pool::{ChunkStats, Config, PoolError, Stats, WorkerStats};
use crate::record::{JobRecord, Status};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use procmap_wire::{self as wire, FromWorker, Hello, Job, JobResult, PROTOCOL_VERSION, ToWorkerRef};
use serde::ser::{Serialize, Serializer};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use worker::{InFlight, KillReason, Pending, Phase, Worker};

/// Chunks in flight per worker: at least this many, so that a worker always
/// has its next chunk queued when it finishes one ...
const DEPTH: usize = 2;

/// ... and more while their jobs add up to fewer than this, so that tiny
/// chunks do not leave a worker waiting on round trips. Still small enough
/// that queued messages never fill the socket buffer (about 278 small ones).
const DEPTH_JOBS: usize = 32;

/// ... provided those jobs are known to take less than this in all: slow
/// jobs queued deep on the first worker to start would starve the others.
const DEPTH_WORK: Duration = Duration::from_millis(2);

/// Records handed to the run's reader at a time, at most (roughly: one
/// result message may add a chunk's worth).
const OUT_BATCH: usize = 1024;

/// How long to wait before retrying a spawn that failed mid-run.
const RESPAWN_DELAY: Duration = Duration::from_millis(200);

/// How often live workers are checked for having exited without their
/// channel closing (a job that forked keeps the channel open).
const EXIT_POLL: Duration = Duration::from_millis(250);

/// Consecutive workers that may fail to start (or die idle) before the run
/// gives up instead of respawning forever.
const MAX_START_FAILURES: u32 = 3;

pub(crate) struct Event {
    pub slot: usize,
    pub generation: u64,
    pub kind: EventKind,
}

pub(crate) enum EventKind {
    Connected(IpcBytesSender, IpcBytesReceiver),
    ConnectFailed(String),
    Message(FromWorker),
    Garbled(String),
    Closed,
    /// Sent by a stop handle so that the loop notices at once.
    Wake,
}

/// A batch of jobs waiting to be sent.
struct Batch {
    jobs: Vec<Pending>,
    /// A suspect rerun alone: its worker gets nothing else meanwhile, so a
    /// second crash blames only this job.
    solo: bool,
    /// The jobs' size, as counted against [`CHUNK_BYTES`].
    bytes: usize,
}

impl Batch {
    fn new(jobs: Vec<Pending>, solo: bool) -> Self {
        let bytes = jobs.iter().map(|p| job_bytes(&p.job)).sum();
        Batch { jobs, solo, bytes }
    }

    /// Whether only an idle worker may take it: a suspect, or more bytes
    /// than may be queued behind another chunk.
    fn needs_idle(&self) -> bool {
        self.solo || self.bytes > CHUNK_BYTES
    }
}

pub(crate) struct Dispatcher {
    cfg: Arc<Config>,
    feeder: Feeder,
    slots: Vec<Option<Worker>>,
    generations: Vec<u64>,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
    out: Sender<Vec<JobRecord>>,
    out_buf: Vec<JobRecord>,
    out_closed: bool,
    retry: VecDeque<Batch>,
    next_seq: u64,
    stop: Arc<AtomicU8>,
    stopping: Option<Instant>,
    start_failures: u32,
    fatal: Option<PoolError>,
    stats: HashMap<u32, WorkerStats>,
    spawned: u32,
    chunker: Chunker,
    chunks: ChunkStats,
    started: Instant,
    /// Slots to respawn once a failed spawn's delay is over.
    respawn_at: Vec<(usize, Instant)>,
    last_exit_poll: Instant,
    /// Initial workers that have not answered the handshake yet.
    starting: usize,
    startup: Option<Duration>,
}

impl Dispatcher {
    pub(crate) fn new(
        cfg: Arc<Config>,
        feeder: Feeder,
        out: Sender<Vec<JobRecord>>,
        stop: Arc<AtomicU8>,
        events: (Sender<Event>, Receiver<Event>),
    ) -> Self {
        let procs = cfg.procs;
        Dispatcher {
            feeder,
            slots: (0..procs).map(|_| None).collect(),
            generations: vec![0; procs],
            events_tx: events.0,
            events_rx: events.1,
            out,
            out_buf: Vec::new(),
            out_closed: false,
            retry: VecDeque::new(),
            next_seq: 0,
            stop,
            stopping: None,
            start_failures: 0,
            fatal: None,
            stats: HashMap::new(),
            spawned: 0,
            chunker: Chunker::new(cfg.chunking, cfg.threads),
            chunks: ChunkStats::default(),
            started: Instant::now(),
            respawn_at: Vec::new(),
            last_exit_poll: Instant::now(),
            starting: procs,
            startup: None,
            cfg,
        }
    }

    pub(crate) fn run(mut self) -> Result<Stats, PoolError> {
        let started = self.started;
        for slot in 0..self.slots.len() {
            self.spawn(slot)?;
        }
        loop {
            self.check_stop();
            if self.fatal.is_none() {
                self.dispatch();
            }
            self.flush_out();
            if self.fatal.is_some() || self.finished() {
                break;
            }
            match self.events_rx.recv_timeout(self.next_wake()) {
                Ok(event) => {
                    self.handle(event);
                    while let Ok(event) = self.events_rx.try_recv() {
                        self.handle(event);
                        if self.out_buf.len() >= OUT_BATCH {
                            self.flush_out();
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("the dispatcher holds a sender"),
            }
            self.check_deadlines();
        }
        self.shutdown_all();
        self.flush_out();
        if let Some(e) = self.fatal {
            return Err(e);
        }
        let mut workers: Vec<WorkerStats> = self.stats.into_values().collect();
        workers.sort_by_key(|w| w.id);
        Ok(Stats {
            workers,
            spawned: self.spawned,
            wall: started.elapsed(),
            chunks: self.chunks,
            startup: self.startup,
        })
    }

    fn spawn(&mut self, slot: usize) -> Result<(), PoolError> {
        self.generations[slot] += 1;
        let worker = Worker::spawn(
            &self.cfg.program,
            &self.cfg.worker_args,
            self.cfg.mem_limit,
            slot,
            self.generations[slot],
            &self.events_tx,
        )
        .map_err(|source| PoolError::Spawn { program: self.cfg.program.clone(), source })?;
        tracing::debug!(slot, pid = worker.pid, "spawned worker");
        self.spawned += 1;
        self.slots[slot] = Some(worker);
        Ok(())
    }

    fn more_work(&self) -> bool {
        self.stopping.is_none() && !self.out_closed && (!self.retry.is_empty() || !self.feeder.is_exhausted())
    }

    fn finished(&self) -> bool {
        let idle = self.slots.iter().flatten().all(|w| w.inflight.is_empty());
        let nothing_left = self.retry.is_empty() && self.feeder.is_exhausted();
        self.out_closed || (idle && (self.stopping.is_some() || nothing_left))
    }

    /// Sends batches to every ready worker that has room.
    fn dispatch(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        for slot in 0..self.slots.len() {
            while let Some(worker) = self.slots[slot].as_ref() {
                let queued: usize = worker.inflight.iter().map(|c| c.jobs.len()).sum();
                let short_jobs = self.chunker.queued_work(queued).is_some_and(|w| w < DEPTH_WORK);
                let full = (worker.inflight.len() >= DEPTH
                    && !(short_jobs && queued < DEPTH_JOBS && worker.inflight.len() < DEPTH_JOBS))
                    || worker.inflight_bytes >= CHUNK_BYTES;
                if worker.phase != Phase::Ready || worker.kill.is_some() || full {
                    break;
                }
                if worker.inflight.iter().any(|c| c.seq & SOLO_BIT != 0) {
                    break;
                }
                let quota = self.cfg.max_tasks_per_child.map(|n| n.saturating_sub(worker.assigned));
                if quota == Some(0) {
                    if worker.inflight.is_empty() {
                        self.retire(slot);
                    }
                    break;
                }
                let idle = worker.inflight.is_empty();
                let Some(batch) = self.next_batch(idle, quota) else {
                    // A long run of invalid lines yields no job but many
                    // records: pass them on and keep reading.
                    if !self.out_buf.is_empty()
                        && !self.out_closed
                        && !self.feeder.is_exhausted()
                        && self.retry.is_empty()
                    {
                        self.flush_out();
                        continue;
                    }
                    break;
                };
                self.send_batch(slot, batch);
            }
        }
    }

    fn next_batch(&mut self, worker_idle: bool, quota: Option<u64>) -> Option<Batch> {
        // Reruns go first. A suspect waits for an idle worker, and while one
        // waits no worker takes fresh input, so that some worker drains.
        if let Some(pos) = self.retry.iter().position(|b| !b.needs_idle() || worker_idle) {
            return self.retry.remove(pos);
        }
        if !self.retry.is_empty() {
            return None;
        }
        let size = self.chunker.next_size();
        let size = quota.map_or(size, |q| size.min(q as usize));
        let jobs = self.feeder.next_chunk(size, worker_idle, &mut self.out_buf);
        if jobs.is_empty() {
            return None;
        }
        self.chunks.record(jobs.len());
        let jobs = jobs.into_iter().map(|job| Pending { job, attempts: 0, crashes: 0 }).collect();
        let batch = Batch::new(jobs, false);
        if batch.needs_idle() && !worker_idle {
            // One job too big to queue behind others: it waits for an idle
            // worker, which reads it at once, so its send cannot block.
            self.retry.push_front(batch);
            return None;
        }
        Some(batch)
    }

    fn send_batch(&mut self, slot: usize, mut batch: Batch) {
        self.next_seq += 1;
        let seq = if batch.solo { self.next_seq | SOLO_BIT } else { self.next_seq };
        for p in &mut batch.jobs {
            p.attempts += 1;
        }
        let worker = self.slots[slot].as_mut().expect("dispatch only to live workers");
        let msg = ToWorkerRef::Chunk { chunk: seq, jobs: PendingJobs(&batch.jobs) };
        let bytes = wire::encode(&msg).expect("jobs always encode");
        worker.assigned += batch.jobs.len() as u64;
        worker.inflight_bytes += bytes.len();
        worker.inflight.push_back(InFlight::new(seq, batch.jobs, bytes.len()));
        let sent = worker.tx.as_ref().map(|tx| tx.send(&bytes));
        if let Some(Err(e)) = sent {
            // The worker is gone (broken pipe or reset); its channel's close
            // event follows and requeues the chunk.
            tracing::debug!(pid = worker.pid, error = %e, "send failed");
        }
    }

    fn retire(&mut self, slot: usize) {
        if let Some(worker) = self.slots[slot].as_mut() {
            // Closing our sender makes the worker finish and exit 0.
            worker.phase = Phase::Retiring;
            worker.tx = None;
        }
    }

    fn handle(&mut self, event: Event) {
        let Event { slot, generation, kind } = event;
        if matches!(kind, EventKind::Wake) {
            return;
        }
        let Some(worker) =
            self.slots.get_mut(slot).and_then(Option::as_mut).filter(|w| w.generation == generation)
        else {
            // An event from a worker already replaced.
            return;
        };
        match kind {
            EventKind::Connected(tx, rx) => {
                // The reader starts whatever happens next: its Closed event
                // is what retires this worker, even one killed already.
                if worker.start_reader(rx, &self.events_tx).is_err() {
                    worker.kill_now(KillReason::Handshake);
                }
                if worker.kill.is_some() {
                    return;
                }
                let bytes = hello_bytes(&self.cfg);
                let ok = tx.send(&bytes).is_ok();
                worker.tx = Some(tx);
                worker.phase = Phase::Greeting;
                worker.since = Instant::now();
                if !ok {
                    worker.kill_now(KillReason::Handshake);
                }
            }
            EventKind::ConnectFailed(reason) => {
                tracing::debug!(pid = worker.pid, %reason, "worker did not connect");
                worker.kill_now(KillReason::Handshake);
                self.on_death(slot);
            }
            EventKind::Message(FromWorker::Hello(hello)) => {
                if hello.protocol != PROTOCOL_VERSION {
                    self.fatal = Some(PoolError::Protocol {
                        program: self.cfg.program.clone(),
                        theirs: hello.protocol,
                    });
                    return;
                }
                worker.phase = Phase::Ready;
                tracing::debug!(pid = worker.pid, "worker ready");
                if self.startup.is_none() && self.spawned as usize == self.slots.len() {
                    self.starting = self.starting.saturating_sub(1);
                    if self.starting == 0 {
                        self.startup = Some(self.started.elapsed());
                    }
                }
                self.feeder.set_known(hello.tasks.into_iter().map(|t| t.name));
            }
            EventKind::Message(FromWorker::Started { id }) => {
                worker.progressed = true;
                if worker.running.len() >= self.cfg.threads {
                    tracing::warn!(pid = worker.pid, "protocol violation: more jobs started than threads");
                    worker.kill_now(KillReason::Protocol);
                } else {
                    worker.running.push((id, Instant::now()));
                }
            }
            EventKind::Message(FromWorker::Results { results, chunks_done }) => {
                if let Err(problem) = self.on_results(slot, results, chunks_done) {
                    let worker = self.slots[slot].as_mut().expect("checked above");
                    tracing::warn!(pid = worker.pid, "protocol violation: {problem}");
                    worker.kill_now(KillReason::Protocol);
                }
            }
            EventKind::Garbled(error) => {
                tracing::warn!(pid = worker.pid, "undecodable message: {error}");
                worker.kill_now(KillReason::Protocol);
            }
            EventKind::Closed => self.on_death(slot),
            EventKind::Wake => {}
        }
    }

    fn on_results(
        &mut self,
        slot: usize,
        results: Vec<JobResult>,
        chunks_done: Vec<u64>,
    ) -> Result<(), String> {
        let worker = self.slots[slot].as_mut().expect("caller checked");
        worker.progressed = true;
        let pid = worker.pid;
        let stats =
            self.stats.entry(pid).or_insert_with(|| WorkerStats { id: pid, ..WorkerStats::default() });
        let mut nanos = 0;
        let count = results.len();
        let now = self.started.elapsed();
        for result in results {
            let found = worker.inflight.iter_mut().find_map(|c| c.finish(result.id).map(|i| (c, i)));
            let Some((chunk, index)) = found else {
                return Err(format!("a result for job {}, which is not in flight", result.id));
            };
            worker.running.retain(|(id, _)| *id != result.id);
            stats.jobs += 1;
            stats.busy += Duration::from_nanos(result.nanos);
            stats.last_result = now;
            nanos += result.nanos;
            let pending = &mut chunk.jobs[index];
            let job = Job {
                id: pending.job.id,
                task: std::mem::take(&mut pending.job.task),
                args: std::mem::take(&mut pending.job.args),
            };
            self.out_buf.push(JobRecord::finished(job, result, pending.attempts, pid));
        }
        self.chunker.observe(count, nanos);
        if count > 0 {
            self.start_failures = 0;
        }
        for seq in chunks_done {
            let Some(pos) = worker.inflight.iter().position(|c| c.seq == seq) else {
                return Err(format!("chunk {seq} reported done but is not in flight"));
            };
            let chunk = &worker.inflight[pos];
            if !chunk.is_complete() {
                return Err(format!(
                    "chunk {seq} reported done after {} of {} jobs",
                    chunk.done,
                    chunk.jobs.len()
                ));
            }
            worker.inflight_bytes -= chunk.bytes;
            worker.inflight.remove(pos);
        }
        Ok(())
    }

    /// A worker's channel closed: reap it, account for its jobs, replace it.
    fn on_death(&mut self, slot: usize) {
        let Some(mut worker) = self.slots[slot].take() else { return };
        let exit = worker.reap();
        let stderr = worker.stderr_tail();
        let death = death::classify(&exit, worker.kill, &stderr, self.cfg.mem_limit);
        tracing::debug!(pid = worker.pid, phase = ?worker.phase, cause = %death.cause, "worker ended");

        let clean_exit = exit == crate::unix::Exit::Code(0) && worker.inflight.is_empty();
        let expected = worker.phase == Phase::Retiring || worker.kill == Some(KillReason::Stop);
        let before_ready = matches!(worker.phase, Phase::Connecting | Phase::Greeting);
        // With start reports a worker that died holding jobs but having
        // started none did not fail on a job: without this it would be
        // replaced forever, its jobs never blamed.
        let no_progress = self.cfg.timeout.is_some() && !worker.progressed && !worker.inflight.is_empty();
        let failed_start = before_ready || no_progress || (worker.inflight.is_empty() && !clean_exit);
        if failed_start && !expected && self.stopping.is_none() {
            self.start_failures += 1;
            if self.start_failures >= MAX_START_FAILURES {
                self.fatal = Some(PoolError::WorkerStart {
                    program: self.cfg.program.clone(),
                    reason: format!("worker {} {}", worker.pid, death.cause),
                    stderr,
                });
                return;
            }
        }

        if worker.kill != Some(KillReason::Stop) && self.stopping.is_none() {
            self.requeue(&mut worker, &death, &stderr);
        }
        self.respawn(slot);
    }

    /// Replaces the worker of `slot` if there is work left. A failure to
    /// spawn mid-run (fork's EAGAIN, no file descriptors left) may pass: it
    /// counts as a failed start and is retried shortly.
    fn respawn(&mut self, slot: usize) {
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

    /// Decides what happens to the jobs a dead worker had in flight.
    ///
    /// A job without a result either may have been running when the worker
    /// died (a suspect) or surely had not started (innocent, requeued with
    /// its attempt uncounted). With start reports the running jobs are known
    /// exactly. Otherwise a one-thread worker was in its oldest chunk or, as
    /// it may hold back the results of small chunks, in a later one up to
    /// the first big chunk (see `wire::COALESCE_BELOW`); a multi-thread
    /// worker may have been anywhere.
    fn requeue(&mut self, worker: &mut Worker, death: &death::Death, stderr: &str) {
        let exact = self.cfg.timeout.is_some();
        let mut suspects = Vec::new();
        let mut innocents = Vec::new();
        let mut reached_big = false;
        for chunk in std::mem::take(&mut worker.inflight) {
            let could_have_started = self.cfg.threads > 1 || !reached_big;
            reached_big |= chunk.jobs.len() >= procmap_wire::COALESCE_BELOW;
            for p in chunk.into_unfinished() {
                let suspect = if exact {
                    worker.running.iter().any(|(id, _)| *id == p.job.id)
                } else {
                    could_have_started
                };
                if suspect { suspects.push(p) } else { innocents.push(p) }
            }
        }
        if !innocents.is_empty() {
            for p in &mut innocents {
                p.attempts -= 1;
            }
            self.retry.push_front(Batch::new(innocents, false));
        }
        // Killed by us for a handshake or protocol fault: no job is to blame.
        if matches!(worker.kill, Some(KillReason::Handshake | KillReason::Protocol)) {
            if !suspects.is_empty() {
                self.retry.push_front(Batch::new(suspects, false));
            }
            return;
        }
        if let Some(KillReason::Timeout { job, after }) = worker.kill {
            // Only the job that overran is to blame, even if it finished
            // during the grace period; jobs beside it in other threads were
            // killed through no fault of their own.
            let Some(pos) = suspects.iter().position(|p| p.job.id == job) else {
                if !suspects.is_empty() {
                    self.retry.push_front(Batch::new(suspects, false));
                }
                return;
            };
            let culprit = suspects.remove(pos);
            let limit = self.cfg.timeout.unwrap_or(after);
            let mut record = self.failed_record(culprit, Status::Timeout, worker.pid);
            record.error = Some(format!(
                "timed out: ran {} (limit {}); worker {} was killed and replaced",
                human_duration(after),
                human_duration(limit),
                worker.pid
            ));
            record.stderr = non_empty(stderr);
            self.out_buf.push(record);
            if !suspects.is_empty() {
                self.retry.push_front(Batch::new(suspects, false));
            }
            return;
        }
        if suspects.len() == 1 {
            let mut culprit = suspects.pop().expect("one suspect");
            culprit.crashes += 1;
            if culprit.crashes > self.cfg.retries {
                let crashes = culprit.crashes;
                let mut record = self.failed_record(culprit, Status::Crashed, worker.pid);
                record.signal = death.signal.clone();
                record.exit_code = death.exit_code;
                let times = if crashes == 1 { "once".to_owned() } else { format!("{crashes} times") };
                record.error = Some(format!(
                    "killed its worker {times}; the last time worker {} {}",
                    worker.pid, death.cause
                ));
                record.stderr = non_empty(stderr);
                self.out_buf.push(record);
            } else {
                self.retry.push_front(Batch::new(vec![culprit], true));
            }
            return;
        }
        // Several suspects: run each alone to find the one at fault.
        for p in suspects.into_iter().rev() {
            self.retry.push_front(Batch::new(vec![p], true));
        }
    }

    fn failed_record(&self, p: Pending, status: Status, pid: u32) -> JobRecord {
        let mut record = JobRecord::rejected(p.job.id, p.job.task, p.job.args, String::new());
        record.status = status;
        record.attempts = p.attempts;
        record.worker = Some(pid);
        record
    }

    fn check_stop(&mut self) {
        let level = self.stop.load(Ordering::Relaxed);
        if level >= 1 && self.stopping.is_none() {
            tracing::info!("stopping: no new jobs; waiting for jobs in flight");
            self.stopping = Some(Instant::now() + self.cfg.stop_grace);
            self.retry.clear();
        }
        let grace_over = self.stopping.is_some_and(|deadline| Instant::now() >= deadline);
        if level >= 2 || grace_over {
            for worker in self.slots.iter_mut().flatten() {
                if worker.kill.is_none() {
                    worker.kill_now(KillReason::Stop);
                }
            }
        }
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        let poll_exits = now - self.last_exit_poll >= EXIT_POLL;
        if poll_exits {
            self.last_exit_poll = now;
        }
        let mut gone = Vec::new();
        for worker in self.slots.iter_mut().flatten() {
            match worker.phase {
                Phase::Connecting | Phase::Greeting => {
                    if worker.has_exited() || now - worker.since > self.cfg.handshake_timeout {
                        worker.terminate(KillReason::Handshake, Duration::ZERO);
                    }
                }
                Phase::Ready | Phase::Retiring => {
                    let overdue = worker
                        .running
                        .iter()
                        .find(|(_, started)| now - *started > self.cfg.timeout.unwrap_or(Duration::MAX));
                    if let Some(&(job, started)) = overdue
                        && worker.kill.is_none()
                    {
                        tracing::info!(pid = worker.pid, job, "job timed out");
                        worker.terminate(
                            KillReason::Timeout { job, after: now - started },
                            self.cfg.kill_grace,
                        );
                    }
                }
            }
            worker.escalate(now);
            // A worker that exited while something it left behind keeps its
            // channel open never sends Closed: notice it here instead.
            if poll_exits && worker.phase != Phase::Connecting {
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
            tracing::warn!(slot, "worker exited but its channel stayed open; treating it as dead");
            self.on_death(slot);
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
    fn next_wake(&self) -> Duration {
        let mut wake = Duration::from_millis(100);
        let now = Instant::now();
        let mut consider = |at: Instant| wake = wake.min(at.saturating_duration_since(now));
        for worker in self.slots.iter().flatten() {
            if matches!(worker.phase, Phase::Connecting | Phase::Greeting) {
                // Polls for a child that died before connecting.
                consider(now + Duration::from_millis(5));
            }
            if let Some(limit) = self.cfg.timeout
                && worker.kill.is_none()
            {
                for (_, started) in &worker.running {
                    consider(*started + limit);
                }
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

    fn flush_out(&mut self) {
        if self.out_buf.is_empty() || self.out_closed {
            return;
        }
        let batch = std::mem::take(&mut self.out_buf);
        if self.out.send(batch).is_err() {
            // Nobody reads the results any more: stop the run.
            self.out_closed = true;
        }
    }

    /// Ends every worker: politely if idle, by SIGKILL otherwise, and reaps
    /// them all before returning.
    fn shutdown_all(&mut self) {
        for worker in self.slots.iter_mut().flatten() {
            worker.tx = None;
            if !worker.inflight.is_empty() || worker.phase != Phase::Ready {
                worker.kill_now(KillReason::Stop);
            }
        }
        for worker in self.slots.iter_mut().filter_map(Option::take) {
            let mut worker = worker;
            worker.reap();
            worker.join_accept();
        }
    }
}

/// Marks chunks that carry one suspect being rerun alone.
const SOLO_BIT: u64 = 1 << 63;

/// Serializes the jobs of pending entries as a sequence of [`Job`]s.
struct PendingJobs<'a>(&'a [Pending]);

impl Serialize for PendingJobs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|p| &p.job))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 { format!("{ms}ms") } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// The encoded hello that opens every worker's conversation.
fn hello_bytes(cfg: &Config) -> Vec<u8> {
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        context: cfg.context.clone(),
        flush_interval_us: cfg.flush_interval.as_micros() as u64,
        report_starts: cfg.timeout.is_some(),
        threads: cfg.threads as u32,
    };
    wire::encode(&ToWorkerRef::<()>::Hello(&hello)).expect("a hello always encodes")
}

/// Starts one worker of `program`, asks it which tasks it has, and lets it
/// go: what `supervisor tasks --worker PATH` lists.
pub(crate) fn catalogue(cfg: &Config) -> Result<Vec<procmap_wire::TaskInfo>, PoolError> {
    let (events_tx, events_rx) = crossbeam_channel::bounded::<Event>(8);
    let mut worker = Worker::spawn(&cfg.program, &cfg.worker_args, None, 0, 1, &events_tx)
        .map_err(|source| PoolError::Spawn { program: cfg.program.clone(), source })?;
    let deadline = Instant::now() + cfg.handshake_timeout;
    let failed = |worker: &mut Worker, reason: String| {
        worker.kill_now(KillReason::Handshake);
        worker.reap();
        worker.join_accept();
        let stderr = worker.stderr_tail();
        PoolError::WorkerStart { program: cfg.program.clone(), reason, stderr }
    };
    loop {
        let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(5));
        match events_rx.recv_timeout(wait) {
            Ok(Event { kind: EventKind::Connected(tx, rx), .. }) => {
                let sent = tx.send(&hello_bytes(cfg));
                worker.tx = Some(tx);
                if sent.is_err() || worker.start_reader(rx, &events_tx).is_err() {
                    return Err(failed(&mut worker, "the worker hung up during the handshake".into()));
                }
            }
            Ok(Event { kind: EventKind::Message(FromWorker::Hello(hello)), .. }) => {
                if hello.protocol != PROTOCOL_VERSION {
                    worker.kill_now(KillReason::Protocol);
                    worker.reap();
                    return Err(PoolError::Protocol { program: cfg.program.clone(), theirs: hello.protocol });
                }
                // Closing our sender makes the worker exit on its own.
                worker.tx = None;
                worker.reap();
                worker.join_accept();
                return Ok(hello.tasks);
            }
            Ok(Event { kind: EventKind::ConnectFailed(reason), .. }) => {
                return Err(failed(&mut worker, format!("worker did not connect: {reason}")));
            }
            Ok(Event { kind: EventKind::Closed | EventKind::Garbled(_), .. }) => {
                return Err(failed(&mut worker, "the worker hung up during the handshake".into()));
            }
            Ok(_) | Err(_) => {
                if worker.has_exited() {
                    return Err(failed(&mut worker, "the worker exited before the handshake".into()));
                }
                if Instant::now() >= deadline {
                    return Err(failed(
                        &mut worker,
                        "the worker did not answer the handshake in time".into(),
                    ));
                }
            }
        }
    }
}
