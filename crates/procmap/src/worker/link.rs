//! The worker's link to the supervisor: reading its messages, and the ways
//! the link fails. Apart from the runtime (`mod.rs`) because the job loops
//! (`chunks.rs`), which the runtime starts, read messages too.

use ipc_channel::ipc;
use procmap_wire::{self as wire, PROTOCOL_VERSION, ToWorker};

/// Why a worker could not serve.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{} is not set: this program is started by `supervisor`, not by hand", wire::SERVER_ENV)]
    NotSupervised,
    #[error("cannot connect to the supervisor")]
    Connect(#[source] std::io::Error),
    #[error("lost the connection to the supervisor during the handshake")]
    Handshake(#[source] std::io::Error),
    #[error(
        "supervisor speaks protocol {theirs}, this worker speaks {PROTOCOL_VERSION}: rebuild both from one checkout"
    )]
    ProtocolMismatch { theirs: u32 },
    #[error("unexpected message from the supervisor: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    #[error("cannot capture the jobs' output")]
    Capture(#[from] super::capture::CaptureError),
}

pub(super) fn recv(rx: &ipc::IpcBytesReceiver) -> Result<Option<ToWorker>, WorkerError> {
    match rx.recv() {
        Ok(bytes) => Ok(Some(wire::decode(&bytes)?)),
        // The supervisor is gone (or closed our channel to stop us): there
        // is nobody to report to, so stop quietly.
        Err(_) => Ok(None),
    }
}
