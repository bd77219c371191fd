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
// Issue 8: any jobs file, even one endless line, keeps memory flat.
mod input_limits;
// Issue 8: the journal never destroys the jobs, stays valid, and failing to
// write it is never success.
mod journal_safety;
// Issue 8: idle deaths, many workers, crashes at start, leftovers.
mod worker_lifecycle;
// Issue 10: concurrency per mode, measured by the jobs themselves.
mod concurrency;
// Sharding a batch (issue 13): --shard, run directories, status, merge, slurm submit.
mod shard;
// A closed stderr or stdout: messages dropped, data failing with exit 3.
mod closed_streams;
// Issue 22: each record's start, and `supervisor report`.
mod report;
// Issue 21: --mode auto picks threads per worker from what the jobs do.
mod auto;
// Issue 21 (3): each job's own output, --capture.
mod capture;
