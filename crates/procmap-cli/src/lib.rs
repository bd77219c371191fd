//! The `supervisor` command line, as a library so that the binary stays a
//! few lines: argument parsing ([`args`]), jobs files ([`jobs`]), the
//! journal and resume ([`journal`]), progress and the summary; sharding a
//! batch ([`shard`]) over a run directory ([`rundir`]), its status, merge
//! and Slurm job arrays.

#[macro_use]
mod say;
pub mod args;
pub mod compare;
pub mod demo;
pub mod exit;
mod fds;
pub mod identity;
mod input;
pub mod jobs;
pub mod journal;
mod ledger;
mod merge;
mod progress;
mod python;
mod run;
pub mod rundir;
pub mod shard;
mod slurm;
mod status;
mod summary;
pub mod units;

pub use run::main;
