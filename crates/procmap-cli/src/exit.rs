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
/// Interrupted (Ctrl-C, SIGTERM, SIGHUP); rerun with `--resume`.
pub const INTERRUPTED: u8 = 130;
