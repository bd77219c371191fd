//! The `supervisor` command line, as a library so that the binary stays a
//! few lines: argument parsing ([`args`]), jobs files ([`jobs`]), the
//! journal and resume ([`journal`]), progress and the summary.

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
mod progress;
mod run;
mod summary;
pub mod units;

pub use run::main;
