//! The `supervisor` command line, as a library so that the binary stays a
//! few lines. `cli` assembles the commands, each of which owns its
//! arguments: a plain run (`run`, with progress and the summary), `tasks`,
//! `demo`, `jobs`, `compare`, `status`, `merge` and `slurm`; [`exit`] names
//! the exit codes. Jobs files,
//! identity, shards, the journal, resume and run directories are
//! [`procmap_batch`]'s, shared with the Python package.

// Every message goes through `say!` or `tell!`, and data through a writer
// whose errors are handled: a closed stderr or stdout must never panic a run.
#![deny(clippy::print_stderr, clippy::print_stdout)]

#[macro_use]
extern crate procmap_batch;

mod capture;
mod cli;
pub mod compare;
pub mod demo;
pub mod exit;
mod fds;
mod jobs;
mod merge;
mod progress;
mod python;
mod report;
mod run;
mod sharding;
mod slurm;
mod status;
mod stdout;
mod summary;
mod tasks;
pub mod units;
mod worker;

pub use cli::main;
