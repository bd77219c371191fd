//! One worker's state as the dispatcher tracks it: its phase, the chunks it
//! has in flight, the jobs it says are running, why we killed it, and how
//! much more it may take (docs/architecture.md, "A worker's life" and "Flow
//! control").
//!
//! No I/O happens here. The dispatcher receives an event, calls the method
//! for it, and performs what it returns (send a chunk, kill the process,
//! write records); the process itself is in `child.rs`. So every transition
//! and limit is unit-tested below with made-up events, without a process.

use procmap_wire::Job;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A job handed to the pool, with its history.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub job: Job,
    /// How many times it was sent to a worker that may have started it.
    pub attempts: u32,
    /// How many times it was found to have killed its worker.
    pub crashes: u32,
    /// When it was last sent to a worker: where a crashed job's record
    /// places it when its worker did not report starts.
    pub sent: Option<Instant>,
}

impl Tracked {
    pub(crate) fn new(job: Job) -> Self {
        Tracked { job, attempts: 0, crashes: 0, sent: None }
    }
}

/// A chunk sent to a worker and not yet finished.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The chunk's id on the wire: the worker names it when it is done.
    pub id: u64,
    /// One suspect rerun alone: the worker takes nothing else meanwhile.
    pub solo: bool,
    /// The encoded size of the chunk message.
    pub bytes: usize,
    pub jobs: Vec<Tracked>,
    /// Which jobs have a result.
    pub finished: Vec<bool>,
    /// Results received so far.
    pub done: usize,
    /// Where the next result probably is: with one thread per worker,
    /// results arrive in job order.
    pub cursor: usize,
}

impl InFlight {
    pub(crate) fn new(id: u64, solo: bool, jobs: Vec<Tracked>, bytes: usize) -> Self {
        InFlight { id, solo, bytes, finished: vec![false; jobs.len()], jobs, done: 0, cursor: 0 }
    }

    /// Marks job `id` finished and returns its index, if it is in this
    /// chunk and has no result yet.
    pub(crate) fn finish(&mut self, id: u64) -> Option<usize> {
        let index = if self.jobs.get(self.cursor).is_some_and(|p| p.job.id == id) {
            self.cursor
        } else {
            self.jobs.iter().position(|p| p.job.id == id)?
        };
        if self.finished[index] {
            return None;
        }
        self.finished[index] = true;
        self.done += 1;
        self.cursor = index + 1;
        Some(index)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.done == self.jobs.len()
    }

    /// The jobs without a result.
    pub(crate) fn into_unfinished(self) -> impl Iterator<Item = Tracked> {
        self.jobs.into_iter().zip(self.finished).filter(|(_, f)| !f).map(|(p, _)| p)
    }

    /// The jobs without a result, borrowed.
    pub(crate) fn unfinished(&self) -> impl Iterator<Item = &Tracked> {
        self.jobs.iter().zip(&self.finished).filter(|(_, f)| !**f).map(|(p, _)| p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Spawned; waiting for it to connect.
    Connecting,
    /// Connected and sent our hello; waiting for its hello.
    Greeting,
    Ready,
    /// Told to exit after its chunks (recycling or the end of the input).
    Retiring,
}

/// Why the dispatcher killed a worker, which decides how its death is
/// reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillReason {
    Timeout { job: u64, after: Duration },
    Handshake,
    Protocol,
    Stop,
}

/// A worker broke the protocol: it is killed, and nobody is blamed for it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Violation {
    #[error("a result for job {job}, which is not in flight")]
    ResultNotInFlight { job: u64 },
    #[error("chunk {chunk} reported done but is not in flight")]
    ChunkNotInFlight { chunk: u64 },
    #[error("chunk {chunk} reported done after {done} of {jobs} jobs")]
    ChunkIncomplete { chunk: u64, done: usize, jobs: usize },
    #[error("more jobs started than the worker has threads")]
    TooManyStarted,
}

/// Chunks in flight per worker: at least this many, so that a worker always
/// has its next chunk queued when it finishes one ...
pub(crate) const DEPTH: usize = 2;

/// ... and more while the jobs queued are known to take less than
/// [`DEPTH_WORK`] in all: a chunk of tiny jobs runs in less time than a
/// round trip through the dispatcher, so with only two in flight the worker
/// would sit idle between chunks. How much more depends on what a crash
/// would cost (see [`WorkerState::room`]): up to this many jobs when blame
/// would suspect them all ...
pub(crate) const DEPTH_JOBS: usize = 32;

/// ... and up to this many chunks, of at most [`DEPTH_DEEP_JOBS`] jobs in
/// all, when every chunk in flight is big enough (`COALESCE_BELOW` jobs or
/// more) that a one-thread worker's crash makes suspects of one chunk only.
pub(crate) const DEPTH_CHUNKS: usize = 32;

/// The cap on jobs queued deep: the time estimate comes from past results,
/// so when the input turns from tiny jobs to slow ones, this is how much
/// may be queued on one worker before the first slow result corrects it.
pub(crate) const DEPTH_DEEP_JOBS: usize = 1024;

/// ... provided those jobs are known to take less than this in all: slow
/// jobs queued deep on the first worker to start would starve the others,
/// and at the end of the input, the last worker's queue is what everyone
/// else waits for.
pub(crate) const DEPTH_WORK: Duration = Duration::from_millis(2);

/// The run's settings that bound what one worker may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Threads per worker.
    pub threads: usize,
    /// Bytes of chunks that may be queued for one worker (see
    /// `input::CHUNK_BYTES`).
    pub chunk_bytes: usize,
    /// `--max-tasks-per-child`.
    pub max_jobs: Option<u64>,
}

/// What a worker may be given now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Nothing: it is not ready, is being killed, is full, or runs a suspect
    /// alone.
    None,
    /// It has run its `--max-tasks-per-child` jobs and holds none: retire it.
    Retire,
    /// A chunk of at most `quota` jobs (unlimited if `None`); `idle` says it
    /// holds nothing, so that a suspect or an oversized chunk may go to it.
    Chunk { idle: bool, quota: Option<u64> },
}

/// One worker's state (see the module docs).
#[derive(Debug)]
pub(crate) struct WorkerState {
    pub phase: Phase,
    /// When the current phase began (for the handshake deadline).
    pub since: Instant,
    pub inflight: VecDeque<InFlight>,
    /// The jobs the worker said it started and has not finished, when
    /// start reports are on (more than one in hybrid mode).
    pub running: Vec<(u64, Instant)>,
    /// Jobs sent to this process, for `--max-tasks-per-child`.
    pub assigned: u64,
    /// Bytes of the chunks in flight, so that what is queued for the
    /// worker always fits in its socket buffer.
    pub inflight_bytes: usize,
    /// Whether it started or finished any job.
    pub progressed: bool,
    /// Why we killed it, if we did; the first reason given is kept.
    pub kill: Option<KillReason>,
}

impl WorkerState {
    pub(crate) fn new(now: Instant) -> Self {
        WorkerState {
            phase: Phase::Connecting,
            since: now,
            inflight: VecDeque::new(),
            running: Vec::new(),
            assigned: 0,
            inflight_bytes: 0,
            progressed: false,
            kill: None,
        }
    }

    pub(crate) fn is_starting(&self) -> bool {
        matches!(self.phase, Phase::Connecting | Phase::Greeting)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.inflight.is_empty()
    }

    /// It connected and we sent our hello.
    pub(crate) fn greeted(&mut self, now: Instant) {
        self.phase = Phase::Greeting;
        self.since = now;
    }

    /// It answered the handshake.
    pub(crate) fn ready(&mut self) {
        self.phase = Phase::Ready;
    }

    /// Told to exit once its chunks are done.
    pub(crate) fn retire(&mut self) {
        self.phase = Phase::Retiring;
    }

    /// Notes that we are killing it; the first reason is the one reported.
    pub(crate) fn killed(&mut self, reason: KillReason) {
        if self.kill.is_none() {
            self.kill = Some(reason);
        }
    }

    /// What it may be given now. `queued_work` estimates how long a number
    /// of jobs take (`None` until a job has been timed).
    pub(crate) fn room(&self, limits: &Limits, queued_work: impl Fn(usize) -> Option<Duration>) -> Room {
        if self.phase != Phase::Ready || self.kill.is_some() || self.inflight.iter().any(|c| c.solo) {
            return Room::None;
        }
        let queued: usize = self.inflight.iter().map(|c| c.jobs.len()).sum();
        let short_jobs = queued_work(queued).is_some_and(|w| w < DEPTH_WORK);
        // A worker with T threads needs T chunks to run T jobs at once (with
        // chunksize 1), and one more queued.
        let depth = DEPTH.max(limits.threads + 1);
        // With one thread, results of a chunk under COALESCE_BELOW jobs may
        // be held back, so a crash makes suspects of every job up to the
        // first big chunk, each then rerun alone; with several threads, of
        // every job in flight. Queue deep only what blame keeps cheap.
        let big_chunks =
            limits.threads == 1 && self.inflight.iter().all(|c| c.jobs.len() >= procmap_wire::COALESCE_BELOW);
        let deep = short_jobs
            && if big_chunks {
                self.inflight.len() < DEPTH_CHUNKS && queued < DEPTH_DEEP_JOBS
            } else {
                queued < DEPTH_JOBS
            };
        // ... but with chunks of several jobs, a job per thread and as many
        // queued are enough: `auto` chunks for 64 threads hold 32 jobs of
        // 20 ms, and 65 of them (2,080 jobs) would all be suspects, each
        // rerun alone, if the worker died, and the last worker's queue is
        // what everyone waits for at the end of the input.
        let enough = limits.threads > 1 && self.inflight.len() >= DEPTH && queued >= 2 * limits.threads;
        let full =
            ((self.inflight.len() >= depth || enough) && !deep) || self.inflight_bytes >= limits.chunk_bytes;
        if full {
            return Room::None;
        }
        let quota = limits.max_jobs.map(|n| n.saturating_sub(self.assigned));
        match quota {
            Some(0) if self.is_idle() => Room::Retire,
            Some(0) => Room::None,
            _ => Room::Chunk { idle: self.is_idle(), quota },
        }
    }

    /// A chunk was sent to it; its jobs' attempts count from now.
    pub(crate) fn sent(&mut self, id: u64, solo: bool, mut jobs: Vec<Tracked>, bytes: usize) {
        for job in &mut jobs {
            job.attempts += 1;
        }
        self.assigned += jobs.len() as u64;
        self.inflight_bytes += bytes;
        self.inflight.push_back(InFlight::new(id, solo, jobs, bytes));
    }

    /// It reported starting job `id` (start reports are on).
    pub(crate) fn started(&mut self, id: u64, now: Instant, threads: usize) -> Result<(), Violation> {
        self.progressed = true;
        if self.running.len() >= threads {
            return Err(Violation::TooManyStarted);
        }
        self.running.push((id, now));
        Ok(())
    }

    /// It sent the result of job `id`: returns the job, left in place with
    /// its task and arguments for the caller to take.
    pub(crate) fn finished(&mut self, id: u64) -> Result<&mut Tracked, Violation> {
        self.progressed = true;
        if !self.running.is_empty() {
            self.running.retain(|(job, _)| *job != id);
        }
        // Chunks with every result in (waiting for their done notice) are
        // skipped: with many small chunks in one message, scanning them
        // would make matching quadratic.
        let found =
            self.inflight.iter_mut().filter(|c| !c.is_complete()).find_map(|c| c.finish(id).map(|i| (c, i)));
        let (chunk, index) = found.ok_or(Violation::ResultNotInFlight { job: id })?;
        Ok(&mut chunk.jobs[index])
    }

    /// It said chunk `id` is done: every job of it must have its result.
    pub(crate) fn chunk_done(&mut self, id: u64) -> Result<(), Violation> {
        let pos =
            self.inflight.iter().position(|c| c.id == id).ok_or(Violation::ChunkNotInFlight { chunk: id })?;
        let chunk = &self.inflight[pos];
        if !chunk.is_complete() {
            return Err(Violation::ChunkIncomplete { chunk: id, done: chunk.done, jobs: chunk.jobs.len() });
        }
        self.inflight_bytes -= chunk.bytes;
        self.inflight.remove(pos);
        Ok(())
    }

    /// The job that has run longer than `timeout`, and for how long, if any
    /// and if it is not being killed already.
    pub(crate) fn overdue(&self, now: Instant, timeout: Option<Duration>) -> Option<(u64, Duration)> {
        let limit = timeout?;
        if self.kill.is_some() {
            return None;
        }
        self.running
            .iter()
            .find(|(_, started)| now - *started > limit)
            .map(|&(job, started)| (job, now - started))
    }

    /// When the next job would overrun `timeout`, if one could.
    pub(crate) fn next_overrun(&self, timeout: Option<Duration>) -> Option<Instant> {
        let limit = timeout?;
        if self.kill.is_some() {
            return None;
        }
        self.running.iter().map(|(_, started)| *started + limit).min()
    }

    /// Whether its death was asked for: it was retiring, or we stopped it.
    pub(crate) fn end_expected(&self) -> bool {
        self.phase == Phase::Retiring || self.kill == Some(KillReason::Stop)
    }

    /// Whether its death counts as a failed start: it died before the
    /// handshake, or (with start reports, `reports_starts`) it died holding
    /// jobs without starting any. Without the second rule such a worker
    /// would be replaced forever and its jobs never blamed.
    pub(crate) fn failed_start(&self, reports_starts: bool) -> bool {
        self.is_starting() || (reports_starts && !self.progressed && !self.is_idle())
    }

    /// Hands over the chunks in flight, to be judged by `blame`.
    pub(crate) fn take_inflight(&mut self) -> VecDeque<InFlight> {
        self.inflight_bytes = 0;
        std::mem::take(&mut self.inflight)
    }

    /// The running jobs' ids, as `blame` takes them.
    pub(crate) fn running_ids(&self) -> Vec<u64> {
        self.running.iter().map(|(id, _)| *id).collect()
    }

    /// When it said job `id` started, if it did and has not finished it.
    pub(crate) fn start_of(&self, id: u64) -> Option<Instant> {
        self.running.iter().find(|(job, _)| *job == id).map(|(_, at)| *at)
    }
}

#[cfg(test)]
mod tests;
