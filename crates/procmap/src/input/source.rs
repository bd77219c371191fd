//! Where a [`Feeder`](super::Feeder) gets its input: pulled on the caller's
//! thread, or read ahead by a thread of its own.

use super::handoff::{self, Taken};
use super::item::Input;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a [`Feeder`] gets its input.
pub(crate) enum Source {
    /// Pulled on the feeder's own thread, which may block on it (thread and
    /// serial modes, whose feeding thread does nothing else).
    Blocking(Box<dyn Iterator<Item = Input> + Send>),
    /// Read by a thread of its own (process mode): a slow producer, such as
    /// a pipe that writes a line a minute, must never stall the dispatcher's
    /// handling of results, timeouts and signals.
    Background {
        queue: handoff::Consumer<Input>,
        /// Inputs taken from the queue and not pulled yet.
        taken: VecDeque<Input>,
        hungry: Arc<AtomicBool>,
    },
}

/// Inputs the reading thread may queue ahead of the dispatcher (plus as
/// many that the dispatcher has taken and not yet pulled).
const READ_AHEAD: usize = 4096;

pub(super) enum Pulled {
    Input(Input),
    /// Nothing yet; the reading thread wakes the dispatcher when there is.
    NotYet,
    End,
}

impl Source {
    /// Starts a thread that reads `inputs` into a bounded queue. It calls
    /// `wake` only when the dispatcher said it is waiting for input: waking
    /// it for every line, when it is busy anyway, would cost a context switch
    /// a job.
    pub(crate) fn background(
        inputs: Box<dyn Iterator<Item = Input> + Send>,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Source> {
        let (tx, queue) = handoff::bounded(READ_AHEAD);
        let hungry = Arc::new(AtomicBool::new(false));
        let waiting = Arc::clone(&hungry);
        std::thread::Builder::new().name("input".into()).spawn(move || {
            for input in inputs {
                if tx.push(input).is_err() {
                    return;
                }
                if waiting.swap(false, Ordering::AcqRel) {
                    wake();
                }
            }
            drop(tx);
            wake();
        })?;
        Ok(Source::Background { queue, taken: VecDeque::with_capacity(READ_AHEAD), hungry })
    }

    /// The next input; `need` says whether the caller will wait for it (it
    /// then asks to be woken when it comes).
    pub(super) fn pull(&mut self, need: bool) -> Pulled {
        match self {
            Source::Blocking(iter) => iter.next().map_or(Pulled::End, Pulled::Input),
            Source::Background { queue, taken, hungry } => {
                if let Some(input) = taken.pop_front() {
                    return Pulled::Input(input);
                }
                let mut asked = false;
                loop {
                    match queue.take(taken) {
                        Taken::Some => return taken.pop_front().map_or(Pulled::NotYet, Pulled::Input),
                        Taken::Closed => return Pulled::End,
                        Taken::Empty if !need || asked => return Pulled::NotYet,
                        Taken::Empty => {
                            // Ask, then look once more: a line queued just
                            // before the flag was set would otherwise wait
                            // for the next tick.
                            hungry.store(true, Ordering::Release);
                            asked = true;
                        }
                    }
                }
            }
        }
    }
}
