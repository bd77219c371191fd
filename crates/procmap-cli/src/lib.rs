//! The `supervisor` command line, as a library so that the binary stays a
//! few lines: argument parsing ([`args`]), progress and the summary,
//! `status`, `merge`, `compare`, `demo` and Slurm job arrays. Jobs files,
//! identity, shards, the journal, resume and run directories are
//! [`procmap_batch`]'s, shared with the Python package.

// Every message goes through `say!` or `tell!`, and data through a writer
// whose errors are handled: a closed stderr or stdout must never panic a run.
#![deny(clippy::print_stderr, clippy::print_stdout)]

#[macro_use]
extern crate procmap_batch;

pub mod args;
pub mod compare;
pub mod demo;
pub mod exit;
mod fds;
mod merge;
mod progress;
mod python;
mod run;
mod sharding;
mod slurm;
mod status;
mod stdout;
mod summary;
pub mod units;

pub use run::main;
