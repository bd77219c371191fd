//! Why a pool could not run.

use crate::death::WorkerDeath;
use procmap_wire::PROTOCOL_VERSION;
use std::path::PathBuf;

/// Why a pool could not run (as opposed to a job failing, which is a
/// record).
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot start worker program {}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("workers keep failing to start ({})", program.display())]
    WorkerStart {
        program: PathBuf,
        /// Why the last one failed.
        #[source]
        failure: StartFailure,
        /// The end of the last one's stderr.
        stderr: String,
    },
    #[error("{} speaks protocol {theirs}, this supervisor speaks {PROTOCOL_VERSION}: rebuild both from one checkout", program.display())]
    Protocol { program: PathBuf, theirs: u32 },
    #[error("cannot start the pool's threads")]
    Thread(#[source] std::io::Error),
    #[error(
        "{procs} worker processes need about {needed} open files, but this process may open {limit} \
         (`ulimit -n`): raise the limit or use fewer --procs"
    )]
    TooManyWorkers { procs: usize, needed: u64, limit: u64 },
    #[error(
        "cannot capture each job's output in {mode}: its jobs share one stdout and stderr \
         (process mode with one thread per worker can)"
    )]
    CaptureShared { mode: &'static str },
}

/// Why one worker process failed to start.
#[derive(Debug, thiserror::Error)]
pub enum StartFailure {
    /// It died before the handshake, or holding jobs without starting any.
    #[error("worker {pid} {cause}")]
    Died { pid: u32, cause: WorkerDeath },
    #[error("the worker did not connect")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the worker hung up during the handshake")]
    HungUp,
    #[error("the worker exited before the handshake")]
    ExitedEarly,
    #[error("the worker did not answer the handshake in time")]
    NoAnswer,
}
