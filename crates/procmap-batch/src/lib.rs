//! Everything around a run of the [`procmap`] engine, shared by the
//! `supervisor` command line and the Python package, so that no format or
//! rule exists twice:
//!
//! - [`jobs`]: the jobs-file reader (one job per line, streamed);
//! - [`identity`]: who a job is across runs, edits and machines;
//! - [`shard`]: which shard of a batch runs a job;
//! - [`journal`]: the JSON Lines journal: its header, its one writer and
//!   line reader; [`encode`], the record encoder;
//! - [`occurrence`]: how readers number identical jobs;
//! - [`previous`]: an old journal, read for a resume; [`resume`], the
//!   decision of which jobs a resumed run skips; [`lookup`], whole records
//!   read back (every one, or the latest of given jobs);
//! - [`writer`]: a journal written on a thread of its own;
//! - [`source`]: the filters between the reader and the pool (shard,
//!   resume);
//! - [`rundir`]: a run directory, the one place that names its files;
//! - [`ledger`]: what the journals of a batch say about each job, behind
//!   `status` and `merge`;
//! - [`halt`]: the halt policy, when a broken batch stops early;
//! - [`say!`]: messages on stderr, best effort.
//!
//! Dependencies point one way: wire ← engine ← batch ← cli / py ← bin.
//! This crate knows nothing of clap or of images.

#![deny(clippy::print_stderr, clippy::print_stdout)]

#[macro_use]
pub mod say;
pub mod auto_line;
pub mod encode;
pub mod halt;
pub mod identity;
pub mod jobs;
pub mod journal;
pub mod ledger;
pub mod lookup;
pub mod occurrence;
pub mod previous;
pub mod rate;
pub mod resume;
pub mod rundir;
pub mod shard;
pub mod source;
pub mod writer;
