//! The supervisor side of the input: pulling jobs lazily ([`source`]),
//! rejecting invalid ones before dispatch ([`admit`]), and cutting the rest
//! into chunks: how many jobs ([`chunking`]) and how many bytes (here).

mod admit;
mod chunking;
mod handoff;
mod item;
mod source;

pub(crate) use chunking::Chunker;
pub use chunking::Chunking;
pub use item::Input;
pub(crate) use source::Source;

use crate::record::JobRecord;
use crate::task::Registry;
use procmap_wire::{Job, RunContext};
use source::Pulled;
use std::collections::{HashMap, HashSet};

/// The most bytes of job text one chunk may carry, and (in
/// `process::state`) the bytes queued to a worker past which it takes no
/// more: at most this plus one chunk is in flight, well within a socket
/// buffer (about 208 KiB), so a send to a worker never blocks the
/// dispatcher. (ipc-channel also sends a message over 212,448 bytes through
/// an extra socket that blocks until the peer drains it.)
pub(crate) const CHUNK_BYTES: usize = 48 * 1024;

pub(crate) struct Feeder {
    source: Source,
    /// Tasks that exist, by name; `None` until a worker has said which it has.
    known: Option<HashSet<String>>,
    /// Tasks whose `plan` the supervisor can run itself.
    local: Registry,
    context: RunContext,
    /// Which job claimed each output file, so a second job writing the same
    /// file is refused instead of silently overwriting it. Keyed by a hash
    /// of the path: 16 bytes a job rather than the whole path, for runs of
    /// millions of images (a false match would need a 64-bit collision).
    claims: HashMap<u64, u64>,
    /// Jobs pulled from the source and not yet handed out: one that did not
    /// fit in the last chunk, or a partial chunk waiting for more input.
    /// Each with its size as counted against [`CHUNK_BYTES`], counted once
    /// on admission, and whether it is to run alone ([`Input::Alone`]).
    held: std::collections::VecDeque<(Job, usize, bool)>,
    held_bytes: usize,
    /// The source had nothing more to give on the last pull.
    lagging: bool,
    exhausted: bool,
}

impl Feeder {
    pub(crate) fn new(source: Source, local: Registry, context: RunContext) -> Self {
        Feeder {
            source,
            known: None,
            local,
            context,
            claims: HashMap::new(),
            held: Default::default(),
            held_bytes: 0,
            lagging: false,
            exhausted: false,
        }
    }

    pub(crate) fn set_known(&mut self, names: impl IntoIterator<Item = String>) {
        self.known = Some(names.into_iter().collect());
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        self.exhausted && self.held.is_empty()
    }

    /// Up to `size` valid jobs (fewer if they exceed [`CHUNK_BYTES`]),
    /// appending the records of invalid ones to `rejected`. Returns an empty
    /// chunk once the input is exhausted, and also when input is slower than
    /// the pool and `partial` is false: a busy worker is better served by a
    /// full chunk a moment later than by many small ones now.
    pub(crate) fn next_chunk(&mut self, size: usize, partial: bool, rejected: &mut Vec<JobRecord>) -> Cut {
        self.lagging = false;
        while self.held.len() < size && self.held_bytes < CHUNK_BYTES {
            match self.pull(partial, rejected) {
                Some((job, cost, alone)) => {
                    self.held_bytes += cost;
                    self.held.push_back((job, cost, alone));
                }
                None => break,
            }
        }
        let alone_next = self.held.front().is_some_and(|&(_, _, alone)| alone);
        let full = self.held.len() >= size || self.held_bytes >= CHUNK_BYTES || alone_next;
        let mut cut = Cut { jobs: Vec::new(), bytes: 0, alone: false };
        if !full && self.lagging && !partial {
            return cut;
        }
        cut.jobs.reserve(size.min(self.held.len()));
        while cut.jobs.len() < size {
            let Some(&(_, cost, alone)) = self.held.front() else { break };
            // A job to run alone is a chunk of its own.
            if !cut.jobs.is_empty() && (alone || cut.bytes + cost > CHUNK_BYTES) {
                break;
            }
            cut.bytes += cost;
            self.held_bytes -= cost;
            cut.jobs.extend(self.held.pop_front().map(|(job, _, _)| job));
            if alone {
                cut.alone = true;
                break;
            }
        }
        cut
    }

    /// The next valid job, rejecting invalid ones on the way. Stops early
    /// after many rejections so that a file of bad lines still streams.
    fn pull(&mut self, need: bool, rejected: &mut Vec<JobRecord>) -> Option<(Job, usize, bool)> {
        for _ in 0..4096 {
            let input = match self.source.pull(need) {
                Pulled::Input(input) => input,
                Pulled::NotYet => {
                    self.lagging = true;
                    return None;
                }
                Pulled::End => {
                    self.exhausted = true;
                    return None;
                }
            };
            if let Input::Done(job) = input {
                self.claim_outputs_of_done(&job);
                continue;
            }
            let alone = matches!(input, Input::Alone(_));
            match self.admit(input) {
                Ok((job, cost)) => return Some((job, cost, alone)),
                Err(record) => rejected.push(*record),
            }
        }
        None
    }
}

/// A chunk cut by [`Feeder::next_chunk`], with its size in bytes as
/// counted against [`CHUNK_BYTES`], and whether it is one job to run alone
/// ([`Input::Alone`]). It reads as the slice of its jobs.
#[derive(Debug)]
pub(crate) struct Cut {
    pub jobs: Vec<Job>,
    pub bytes: usize,
    pub alone: bool,
}

impl std::ops::Deref for Cut {
    type Target = [Job];
    fn deref(&self) -> &[Job] {
        &self.jobs
    }
}

pub(crate) fn job_bytes(job: &Job) -> usize {
    16 + job.task.len() + job.args.iter().map(|a| a.len() + 2).sum::<usize>() + job.payload.len()
}

#[cfg(test)]
mod tests;
