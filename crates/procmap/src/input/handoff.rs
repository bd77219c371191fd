//! A bounded queue from one producer thread to one consumer that takes
//! everything queued at once.
//!
//! The input thread hands every parsed line to the dispatcher through this.
//! A channel with one message per line cost a lock round and, with the
//! queue full, a wake-up of the blocked producer per line: on a million
//! trivial jobs that was 7% of all CPU and most of the context switches.
//! Here the producer locks an uncontended mutex per item, and blocks only
//! when the queue is full; the consumer swaps the whole queue out in one
//! lock (O(1), both buffers keep their capacity) and wakes the producer
//! once per swap.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when a full queue was emptied, or the consumer left.
    room: Condvar,
}

struct State<T> {
    items: VecDeque<T>,
    /// The producer is gone: after `items`, nothing more comes.
    closed: bool,
    /// The consumer is gone: pushing is pointless.
    abandoned: bool,
    /// The producer waits for room: what a test of the release waits for
    /// before it leaves, instead of sleeping and hoping.
    waiting: bool,
}

/// The producing end.
pub(crate) struct Producer<T> {
    shared: Arc<Shared<T>>,
    capacity: usize,
}

/// The consuming end.
pub(crate) struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

/// What [`Consumer::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Items were moved into the caller's buffer.
    Some,
    /// Nothing queued now; more may come.
    Empty,
    /// Nothing queued, and the producer is gone.
    Closed,
}

/// A queue holding at most `capacity` items (at least 1).
pub(crate) fn bounded<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(capacity),
            closed: false,
            abandoned: false,
            waiting: false,
        }),
        room: Condvar::new(),
    });
    (Producer { shared: Arc::clone(&shared), capacity }, Consumer { shared })
}

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    // Neither side panics while holding the lock; if one did, the queue's
    // contents are still whole.
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> Producer<T> {
    /// Queues `item`, waiting while the queue is full. Gives it back if the
    /// consumer is gone.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut state = lock(&self.shared);
        while state.items.len() >= self.capacity && !state.abandoned {
            state.waiting = true;
            state = self.shared.room.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.waiting = false;
        if state.abandoned {
            return Err(item);
        }
        state.items.push_back(item);
        Ok(())
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        lock(&self.shared).closed = true;
    }
}

impl<T> Consumer<T> {
    /// Moves everything queued to the back of `into`, which must be empty
    /// (it is swapped with the queue, so no item is copied).
    pub(crate) fn take(&self, into: &mut VecDeque<T>) -> Taken {
        debug_assert!(into.is_empty(), "take swaps buffers: the caller's must be empty");
        let mut state = lock(&self.shared);
        if state.items.is_empty() {
            return if state.closed { Taken::Closed } else { Taken::Empty };
        }
        std::mem::swap(&mut state.items, into);
        drop(state);
        self.shared.room.notify_one();
        Taken::Some
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.abandoned = true;
        state.items.clear();
        drop(state);
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn items_arrive_in_order_then_closed() {
        let (tx, rx) = bounded(3);
        let mut buf = VecDeque::new();
        assert_eq!(rx.take(&mut buf), Taken::Empty);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        assert_eq!(rx.take(&mut buf), Taken::Some);
        assert_eq!(buf.drain(..).collect::<Vec<_>>(), [1, 2]);
        tx.push(3).unwrap();
        drop(tx);
        // What was queued before the producer left still comes first.
        assert_eq!(rx.take(&mut buf), Taken::Some);
        assert_eq!(buf.drain(..).collect::<Vec<_>>(), [3]);
        assert_eq!(rx.take(&mut buf), Taken::Closed);
    }

    #[test]
    fn a_full_queue_blocks_the_producer_until_taken() {
        let (tx, rx) = bounded(2);
        let producer = std::thread::spawn(move || {
            for i in 0..5 {
                tx.push(i).unwrap();
            }
        });
        let mut got = Vec::new();
        let mut buf = VecDeque::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.take(&mut buf) {
                Taken::Some => {
                    // Never more than the capacity at once.
                    assert!(buf.len() <= 2, "took {} items from a queue of 2", buf.len());
                    got.extend(buf.drain(..));
                }
                Taken::Empty => {
                    assert!(Instant::now() < deadline, "waited 10 s for 5 items; got {got:?}");
                    std::thread::yield_now();
                }
                Taken::Closed => break,
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_producer_blocked_on_a_full_queue_is_released_when_the_consumer_leaves() {
        let (tx, rx) = bounded(1);
        tx.push(0).unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || done_tx.send(tx.push(1)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !lock(&rx.shared).waiting {
            assert!(Instant::now() < deadline, "the producer did not block on the full queue within 10 s");
            std::thread::yield_now();
        }
        drop(rx);
        let pushed = done_rx.recv_timeout(Duration::from_secs(10)).expect(
            "the producer, blocked on a full queue, was not released within 10 s of the consumer leaving",
        );
        assert_eq!(pushed, Err(1));
    }
}
