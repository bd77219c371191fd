//! The worker runtime: what a `supervisor-worker` binary runs.
//!
//! [`serve`] connects to the supervisor, answers its hello with the
//! registry's task list, then runs chunks until told to stop or until the
//! supervisor disappears. Results are sent back in batches, because each IPC
//! message costs about 10 µs; a batch goes out at the end of every chunk and,
//! from a flusher thread, whenever a finished result has waited longer than
//! the flush interval, so a slow job's neighbours are reported promptly and a
//! crash loses as little as possible.

pub mod capture;
mod chunks;
mod link;
mod outbox;

pub use link::WorkerError;

use crate::channel::Bootstrap;
use crate::exec;
use crate::task::Registry;
use chunks::run_chunks;
use ipc_channel::ipc::{self, IpcSender};
use link::recv;
use outbox::Outbox;
use procmap_wire::{self as wire, FromWorker, PROTOCOL_VERSION, ToWorker, WorkerHello};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Runs the worker side of the protocol with the tasks in `registry`. Returns
/// when the supervisor says to shut down or goes away.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     let registry = procmap::Registry::new(); // register your tasks here
///     procmap::worker::main(registry)
/// }
/// ```
pub fn serve(registry: Registry) -> Result<(), WorkerError> {
    exec::install_panic_hook();
    let name = std::env::var(wire::SERVER_ENV).map_err(|_| WorkerError::NotSupervised)?;
    let bootstrap_tx: IpcSender<Bootstrap> = IpcSender::connect(name).map_err(WorkerError::Connect)?;
    let (to_worker, rx) = ipc::bytes_channel().map_err(WorkerError::Connect)?;
    let (tx, from_worker) = ipc::bytes_channel().map_err(WorkerError::Connect)?;
    bootstrap_tx
        .send(Bootstrap { to_worker, from_worker })
        .map_err(|e| WorkerError::Handshake(std::io::Error::other(e.to_string())))?;
    drop(bootstrap_tx);

    let hello = match recv(&rx)? {
        Some(ToWorker::Hello(hello)) => hello,
        Some(other) => return Err(WorkerError::Unexpected(format!("{other:?}"))),
        None => return Ok(()),
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(WorkerError::ProtocolMismatch { theirs: hello.protocol });
    }
    // One job at a time is what a single marker can say; a hybrid worker's
    // deaths are judged without it.
    let marker = (hello.threads <= 1)
        .then(|| std::env::var_os(crate::marker::ENV))
        .flatten()
        .and_then(|path| crate::marker::Marker::open(std::path::Path::new(&path)).ok());
    // Before the hello's answer: a worker that cannot capture fails its
    // start, where the supervisor shows why. Several threads cannot tell
    // their jobs' output apart; the supervisor never asks them to.
    let capture = match hello.threads {
        0 | 1 => capture::install(&hello.capture)?,
        _ => None,
    };
    let reply = FromWorker::Hello(WorkerHello {
        protocol: PROTOCOL_VERSION,
        pid: std::process::id(),
        tasks: registry.infos(),
        marks: marker.is_some(),
    });
    tx.send(&wire::encode(&reply)?).map_err(WorkerError::Handshake)?;

    let outbox = Arc::new(Outbox::new(tx, Duration::from_micros(hello.flush_interval_us.max(100))));
    let flusher = {
        let outbox = Arc::clone(&outbox);
        std::thread::Builder::new().name("flusher".into()).spawn(move || outbox.flush_loop())
    };
    let flusher = flusher.map_err(WorkerError::Connect)?;

    let result = run_chunks(&registry, &hello, &rx, &outbox, marker.as_ref(), capture);
    outbox.close();
    let _ = flusher.join();
    result
}

/// [`serve`] for a binary's `main`: reports an error on stderr and turns it
/// into an exit code.
pub fn main(registry: Registry) -> ExitCode {
    match serve(registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say_failure(&e);
            ExitCode::from(wire::EXIT_WORKER_ERROR)
        }
    }
}

/// Writes `e` and its causes to stderr, best effort: `eprintln!` panics on
/// a stderr whose reader went away, which would turn the worker's own exit
/// code into a panic's.
fn say_failure(e: &WorkerError) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut text = format!("supervisor-worker: {e}\n");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = writeln!(text, "  caused by: {s}");
        source = s.source();
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
