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
    Message(FromWorker),
    Garbled(wire::WireError),
    Closed,
    /// Sent by a stop handle so that the loop notices at once.
    Wake,
}
