//! What reaches the dispatcher: the one kind of message its loop waits for.
//! Apart from the loop (`mod.rs`) because the threads that send events
//! (`child.rs`, the pool's stop handle) need the type but not the loop.

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use procmap_wire::{self as wire, FromWorker};

pub(crate) struct Event {
    pub slot: usize,
    pub generation: u64,
    pub kind: EventKind,
}

pub(crate) enum EventKind {
    Connected(IpcBytesSender, IpcBytesReceiver),
    ConnectFailed(ipc_channel::IpcError),
    /// A message as read from the channel, decoded by the dispatcher (see
    /// [`EventKind::decoded`]).
    Received(Vec<u8>),
    Message(FromWorker),
    Garbled(wire::WireError),
    Closed,
    /// Sent by a stop handle so that the loop notices at once.
    Wake,
}

impl EventKind {
    /// A received message decoded: [`EventKind::Message`], or
    /// [`EventKind::Garbled`] if it does not decode.
    ///
    /// Reader threads pass messages on undecoded so that the results'
    /// allocations are made on the dispatcher's thread, which turns them
    /// into records: decoded on the reader threads, each result's bytes
    /// came from that thread's own heap pages, and with every worker's
    /// reader holding pages of records still queued for the journal, each
    /// worker added about 0.4 MB to the supervisor's peak (3M `cube` jobs,
    /// -p 8: 20.5 MB, 17.6 MB decoded here).
    pub(crate) fn decoded(self) -> EventKind {
        match self {
            EventKind::Received(bytes) => match wire::decode(&bytes) {
                Ok(msg) => EventKind::Message(msg),
                Err(e) => EventKind::Garbled(e),
            },
            other => other,
        }
    }
}
