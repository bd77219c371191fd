//! Exit codes, documented in `--help` and the README. The one place that
//! names them.

pub const OK: u8 = 0;
/// At least one job is not ok; its record says why.
pub const JOBS_FAILED: u8 = 1;
/// A usage or setup error: a bad option, an unreadable jobs file, a worker
/// that cannot start.
pub const SETUP: u8 = 2;
/// The journal could not be written: a full disk, a closed stdout, a pipe
/// whose reader went away. Records after the failure are lost; rerun with
/// `--resume` to redo their jobs.
pub const JOURNAL: u8 = 3;
/// Stopped by `--halt`; rerun with `--resume` to finish the batch.
pub const HALTED: u8 = 4;
/// Interrupted (Ctrl-C, SIGTERM, SIGHUP); rerun with `--resume`.
pub const INTERRUPTED: u8 = 130;

/// The exit code of a command that failed with `error`: data that stdout
/// could not take is lost like records of a journal that could not be
/// written; anything else stopped the command before it did its work.
pub fn of_error(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<crate::stdout::DataError>().is_some() { JOURNAL } else { SETUP }
}
