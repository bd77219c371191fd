//! Process mode: the dispatcher loop. Its design is in
//! `docs/architecture.md` (threads and ownership, a chunk's life, flow
//! control, blame, stopping).
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
//! Each worker has a few chunks in flight, so it always has the next one
//! queued, and a hung worker holds little: how many is decided by
//! `state::WorkerState::room` (docs/architecture.md, "Flow control"). The
//! bytes queued to a worker are capped (see [`crate::input::CHUNK_BYTES`])
//! so that sending never blocks.
//!
//! When a worker dies, results that already arrived are kept. The jobs
//! without a result that it may have been running are suspects (its first
//! chunk, or up to its first big one: see `blame.rs`): one alone is the
//! culprit; several are each rerun alone, so the culprit is pinned without
//! blaming the others. Later chunks never started and are simply requeued,
//! chunk by chunk. A culprit is rerun up to `retries` times before it is
//! recorded as `crashed`.

mod aftermath;
mod batch;
mod blame;
mod child;
mod deadlines;
mod death;
mod event;
mod flow;
mod handshake;
mod leftovers;
mod shutdown;
mod state;
mod tune;
mod window;
mod zygote;

use batch::Batch;
pub(crate) use event::{Event, EventKind};
pub(crate) use handshake::catalogue;
use handshake::hello_bytes;

use crate::config::Config;
use crate::error::PoolError;
use crate::input::Chunker;
use crate::input::{CHUNK_BYTES, Feeder};
use crate::record::{JobRecord, Status};
use crate::stats::{ChunkStats, Stats, WorkerStats};
use blame::Decision;
use child::Worker;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use procmap_wire::{self as wire, FromWorker, Job, JobResult, PROTOCOL_VERSION, ToWorkerRef};
use serde::ser::{Serialize, Serializer};
use state::{KillReason, Tracked, Violation};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Records handed to the run's reader at a time, at most (results are cut
/// at this count, even within one message; the rejected lines of one cut
/// or the records of one worker's death may add a chunk's worth).
const OUT_BATCH: usize = 1024;

/// Workers starting (spawned, handshake not done) at once. Spawning a
/// thousand before reading any handshake starved them all on two cores
/// until their handshake deadline ran out; paced, each is served as it
/// comes and the first ones run jobs while the rest start.
const STARTING_AT_ONCE: usize = 8;

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
    next_chunk_id: u64,
    stop: Arc<AtomicU8>,
    stopping: Option<Instant>,
    start_failures: u32,
    fatal: Option<PoolError>,
    stats: HashMap<u32, WorkerStats>,
    spawned: u32,
    chunker: Chunker,
    chunks: ChunkStats,
    started: Instant,
    /// `started` on the monotonic clock workers read: the origin of the
    /// records' `start`.
    origin: u64,
    /// Slots to respawn once a failed spawn's delay is over.
    respawn_at: Vec<(usize, Instant)>,
    last_exit_poll: Instant,
    /// Slots whose first worker is not spawned yet (see [`STARTING_AT_ONCE`]).
    unspawned: std::ops::Range<usize>,
    /// Workers that have answered the handshake, for the start-up time.
    ready_once: usize,
    startup: Option<Duration>,
    /// Workers' marker files; none if the directory could not be made
    /// (deaths are then judged by the older rules).
    marks: Option<crate::marker::MarkDir>,
    /// `--mode auto`: the window being measured and the controller.
    tune: Option<window::Tune>,
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
            out_buf: Vec::with_capacity(OUT_BATCH),
            out_closed: false,
            retry: VecDeque::new(),
            next_chunk_id: 0,
            stop,
            stopping: None,
            start_failures: 0,
            fatal: None,
            stats: HashMap::new(),
            spawned: 0,
            chunker: Chunker::new(cfg.chunking, cfg.threads),
            chunks: ChunkStats::default(),
            started: Instant::now(),
            origin: crate::unix::monotonic_nanos(),
            respawn_at: Vec::new(),
            last_exit_poll: Instant::now(),
            unspawned: 0..procs,
            ready_once: 0,
            startup: None,
            marks: crate::marker::MarkDir::create()
                .map_err(|e| tracing::warn!("no marker files, deaths judged without them: {e}"))
                .ok(),
            tune: cfg.auto.then(|| window::Tune::new(procs)),
            cfg,
        }
    }

    pub(crate) fn run(mut self) -> Result<Stats, PoolError> {
        let started = self.started;
        if self.cfg.kill_leftovers
            && let Err(e) = leftovers::set_subreaper(true)
        {
            tracing::warn!("cannot become a subreaper, so jobs' sessions may outlive their workers: {e}");
        }
        loop {
            self.spawn_initial()?;
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
            self.tune();
            self.check_deadlines();
        }
        self.shutdown_all();
        if self.cfg.kill_leftovers {
            leftovers::kill_all_at_end();
            let _ = leftovers::set_subreaper(false);
        }
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
            auto: self.tune.map(|t| t.changes).unwrap_or_default(),
        })
    }

    /// Spawns first workers while fewer than [`STARTING_AT_ONCE`] are
    /// starting and there is work for them.
    fn spawn_initial(&mut self) -> Result<(), PoolError> {
        // Checked first: this runs on every turn of the loop, and once every
        // slot has had its first worker there is nothing to count.
        if self.unspawned.is_empty() || self.fatal.is_some() || self.stopping.is_some() || self.out_closed {
            return Ok(());
        }
        let mut starting = self.slots.iter().flatten().filter(|w| w.state.is_starting()).count();
        while starting < STARTING_AT_ONCE {
            let Some(slot) = self.unspawned.next() else { break };
            self.spawn(slot)?;
            starting += 1;
        }
        Ok(())
    }

    fn spawn(&mut self, slot: usize) -> Result<(), PoolError> {
        self.generations[slot] += 1;
        let launch = child::Launch {
            program: &self.cfg.program,
            args: &self.cfg.worker_args,
            zygote: self.cfg.zygote.as_deref(),
            output: self.cfg.worker_output.clone(),
            mem_limit: self.cfg.mem_limit,
            marker: self.marks.as_ref().and_then(|m| m.file(slot, self.generations[slot]).ok()),
        };
        let worker = Worker::spawn(&launch, slot, self.generations[slot], &self.events_tx)
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
        let idle = self.slots.iter().flatten().all(|w| w.state.is_idle());
        let nothing_left = self.retry.is_empty() && self.feeder.is_exhausted();
        self.out_closed || (idle && (self.stopping.is_some() || nothing_left))
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
        let _span = tracing::debug_span!("worker", slot, pid = worker.pid).entered();
        match kind {
            EventKind::Connected(tx, rx) => {
                // The reader starts whatever happens next: its Closed event
                // is what retires this worker, even one killed already.
                if worker.start_reader(rx, &self.events_tx).is_err() {
                    worker.kill_now(KillReason::Handshake);
                }
                if worker.state.kill.is_some() {
                    return;
                }
                let threads = self.tune.as_ref().map_or(self.cfg.threads, window::Tune::threads);
                worker.set_threads(threads);
                let bytes = hello_bytes(&self.cfg, threads);
                let ok = tx.send(&bytes).is_ok();
                worker.tx = Some(tx);
                worker.state.greeted(Instant::now());
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
                worker.state.ready();
                // A worker told to run several threads before it answered
                // may have stopped marking already.
                worker.marks = hello.marks && worker.threads_max <= 1;
                tracing::debug!(pid = worker.pid, "worker ready");
                self.ready_once += 1;
                if self.startup.is_none() && self.ready_once == self.slots.len() {
                    self.startup = Some(self.started.elapsed());
                }
                self.feeder.set_known(hello.tasks.into_iter().map(|t| t.name));
            }
            EventKind::Message(FromWorker::Started { id }) => {
                if let Err(problem) = worker.state.started(id, Instant::now(), worker.threads_max) {
                    tracing::warn!(pid = worker.pid, "protocol violation: {problem}");
                    worker.kill_now(KillReason::Protocol);
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
    ) -> Result<(), Violation> {
        let count = results.len();
        let (mut taken, mut nanos) = (0u64, 0u64);
        let mut found = Ok(());
        for result in results {
            let worker = self.slots[slot].as_mut().expect("caller checked");
            let tracked = match worker.state.finished(result.id) {
                Ok(tracked) => tracked,
                Err(violation) => {
                    found = Err(violation);
                    break;
                }
            };
            taken += 1;
            nanos += result.nanos;
            if let Some(tune) = self.tune.as_mut() {
                tune.observe(&result);
            }
            // The record needs the job's name and arguments, not its
            // payload: leave that with the tracked job, to be dropped.
            let job = Job::new(
                tracked.job.id,
                std::mem::take(&mut tracked.job.task),
                std::mem::take(&mut tracked.job.args),
            );
            self.out_buf.push(JobRecord::finished(job, result, tracked.attempts, worker.pid, self.origin));
            // Records leave in batches of OUT_BATCH even when one message
            // holds a chunk of 4,096 results: batches grown to a message's
            // size were held up to six at a time (queued, being read, being
            // filled), a few MB of records waiting for the journal.
            if self.out_buf.len() >= OUT_BATCH {
                self.flush_out();
            }
        }
        // Every result up to a violation counts.
        let worker = self.slots[slot].as_mut().expect("caller checked");
        let pid = worker.pid;
        let stats =
            self.stats.entry(pid).or_insert_with(|| WorkerStats { id: pid, ..WorkerStats::default() });
        if taken > 0 {
            stats.jobs += taken;
            stats.busy += Duration::from_nanos(nanos);
            stats.last_result = self.started.elapsed();
        }
        found?;
        self.chunker.observe(count, nanos);
        if count > 0 {
            self.start_failures = 0;
        }
        for chunk in chunks_done {
            worker.state.chunk_done(chunk)?;
        }
        Ok(())
    }

    fn flush_out(&mut self) {
        if self.out_buf.is_empty() || self.out_closed {
            return;
        }
        for record in &self.out_buf {
            if record.status != Status::Ok {
                // It wrote nothing: another job may write its outputs.
                self.feeder.release_claims(record);
            }
        }
        // A fresh buffer of the usual size: grown from empty by doubling,
        // each batch cost a copy of twice its records.
        let batch = std::mem::replace(&mut self.out_buf, Vec::with_capacity(OUT_BATCH));
        if self.out.send(batch).is_err() {
            // Nobody reads the results any more: stop the run.
            self.out_closed = true;
        }
    }
}
