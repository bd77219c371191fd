//! The two byte channels between the supervisor and one worker, and how they
//! are set up.
//!
//! The supervisor creates an `IpcOneShotServer` and passes its name to the
//! worker in [`SERVER_ENV`](procmap_wire::SERVER_ENV). The worker connects,
//! creates both channels itself and sends the supervisor its halves in one
//! [`Bootstrap`] message. Afterwards only the worker holds the sender of
//! results and only the supervisor holds the sender of jobs, so either side
//! sees a disconnect the moment the other one dies.

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize};

/// The worker's first and only message on the one-shot server's channel.
#[derive(Serialize, Deserialize)]
pub(crate) struct Bootstrap {
    /// Supervisor → worker: chunks, hello, shutdown.
    pub to_worker: IpcBytesSender,
    /// Worker → supervisor: hello, results.
    pub from_worker: IpcBytesReceiver,
}
