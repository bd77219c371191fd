//! A run in progress: [`Run`] streams one record per job, [`Next`] says
//! what a bounded wait found, and [`StopHandle`] asks the run to stop.

use crate::error::PoolError;
use crate::process::{Event, EventKind};
use crate::record::JobRecord;
use crate::serial::Serial;
use crate::stats::{AutoLog, ChunkStats, Stats};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running pool: iterate it for records, in completion order.
pub struct Run {
    inner: Inner,
    stop: Arc<AtomicU8>,
    buffered: std::vec::IntoIter<JobRecord>,
    auto: AutoLog,
}

/// Where the records come from: a channel fed by the dispatcher or the
/// thread-mode feeder, or serial mode run on the reader's own thread.
pub(crate) enum Inner {
    Channel {
        rx: Receiver<Vec<JobRecord>>,
        handle: Option<JoinHandle<Result<Stats, PoolError>>>,
        wake: Option<Sender<Event>>,
    },
    Serial(Box<Serial>),
}

/// Asks a run to stop, from another thread or a signal handler's thread.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<AtomicU8>,
    wake: Option<Sender<Event>>,
}

impl StopHandle {
    /// The first call stops dispatching and lets jobs in flight finish (up
    /// to the stop grace period); the second kills the workers at once.
    /// Returns how many stops have been requested.
    pub fn request_stop(&self) -> u8 {
        let level = self.stop.fetch_add(1, Ordering::SeqCst).saturating_add(1).min(2);
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(Event { slot: usize::MAX, generation: 0, kind: EventKind::Wake });
        }
        level
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst) > 0
    }
}

impl Run {
    pub(crate) fn new(inner: Inner, stop: Arc<AtomicU8>, auto: AutoLog) -> Run {
        Run { inner, stop, buffered: Vec::new().into_iter(), auto }
    }

    /// The decisions of an auto run (`PoolBuilder::auto`) as they are
    /// made; always empty otherwise.
    pub fn auto_log(&self) -> AutoLog {
        self.auto.clone()
    }

    pub fn stop_handle(&self) -> StopHandle {
        let wake = match &self.inner {
            Inner::Channel { wake, .. } => wake.clone(),
            Inner::Serial(_) => None,
        };
        StopHandle { stop: Arc::clone(&self.stop), wake }
    }

    /// Waits for the pool to wind down and returns its counters, or the
    /// error that ended it early. Records not yet read are dropped.
    pub fn finish(mut self) -> Result<Stats, PoolError> {
        match &mut self.inner {
            Inner::Serial(serial) => {
                let stats = Stats {
                    workers: if serial.stats.jobs > 0 { vec![serial.stats.clone()] } else { vec![] },
                    spawned: 0,
                    wall: serial.started.elapsed(),
                    chunks: ChunkStats::default(),
                    startup: None,
                    auto: Vec::new(),
                };
                Ok(stats)
            }
            Inner::Channel { rx, handle, .. } => {
                // Dropping the receiver tells the dispatcher nobody listens.
                let (_, dead) = crossbeam_channel::bounded(0);
                drop(std::mem::replace(rx, dead));
                match handle.take().map(JoinHandle::join) {
                    Some(Ok(result)) => result,
                    Some(Err(panic)) => std::panic::resume_unwind(panic),
                    None => Ok(Stats::default()),
                }
            }
        }
    }
}

/// What [`Run::next_timeout`] found.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a transient return value, moved once; boxing would cost an allocation per record"
)]
pub enum Next {
    Record(JobRecord),
    /// Nothing arrived in time; the run goes on.
    Pending,
    /// Every record has been delivered.
    Finished,
}

impl Run {
    /// Like [`Iterator::next`], but gives up after `timeout`, so that a
    /// caller can do periodic work (flushing a journal) while jobs run.
    pub fn next_timeout(&mut self, timeout: Duration) -> Next {
        if let Some(record) = self.buffered.next() {
            return Next::Record(record);
        }
        if let Inner::Channel { rx, .. } = &mut self.inner {
            match rx.recv_timeout(timeout) {
                Ok(batch) => self.buffered = batch.into_iter(),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => return Next::Pending,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Next::Finished,
            }
        }
        match self.next() {
            Some(record) => Next::Record(record),
            None => Next::Finished,
        }
    }
}

impl Iterator for Run {
    type Item = JobRecord;

    fn next(&mut self) -> Option<JobRecord> {
        loop {
            if let Some(record) = self.buffered.next() {
                return Some(record);
            }
            let batch = match &mut self.inner {
                Inner::Channel { rx, .. } => rx.recv().ok()?,
                Inner::Serial(serial) => {
                    if self.stop.load(Ordering::SeqCst) > 0 {
                        return None;
                    }
                    serial.next_batch()?
                }
            };
            self.buffered = batch.into_iter();
        }
    }
}
