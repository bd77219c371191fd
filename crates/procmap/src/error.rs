//! Why a pool could not run.

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
    #[error("workers keep failing to start ({}): {reason}", program.display())]
    WorkerStart { program: PathBuf, reason: String, stderr: String },
    #[error("{} speaks protocol {theirs}, this supervisor speaks {PROTOCOL_VERSION}: rebuild both from one checkout", program.display())]
    Protocol { program: PathBuf, theirs: u32 },
    #[error("cannot start the pool's threads")]
    Thread(#[source] std::io::Error),
    #[error(
        "{procs} worker processes need about {needed} open files, but this process may open {limit} \
         (`ulimit -n`): raise the limit or use fewer --procs"
    )]
    TooManyWorkers { procs: usize, needed: u64, limit: u64 },
}
