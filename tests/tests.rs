//! Integration tests: each runs the real `supervisor` and `supervisor-worker`
//! binaries on real files.

// Shared helpers: directories, bounded waits, journal parsing.
mod util;

// The pool's contract: modes, input forms, errors, exit codes.
mod pool;
// The image tasks through the real binaries: every task, mode and bad input.
mod images;
// Crash isolation: real faults, chaos kills, interruption and resume.
mod crashes;
// `supervisor compare`: every configuration measured, table, CSV and chart.
mod compare;
// Regressions from a review of the engine: pipes, locks, hangs, limits.
mod robustness;
// Sharding a batch (issue 13): --shard, run directories, status, merge, slurm submit.
mod shard;
