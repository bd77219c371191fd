//! Integration tests: each runs the real `supervisor` and `supervisor-worker`
//! binaries on real files.

// Shared helpers: directories, bounded waits, journal parsing.
mod util;

// The pool's contract: modes, input forms, errors, exit codes.
mod pool;
// Crash isolation: real faults, chaos kills, interruption and resume.
mod crashes;
