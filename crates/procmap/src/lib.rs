//! procmap: run batches of jobs on a pool of worker processes that survives
//! whatever a job does.
//!
//! The main type is [`Pool`], configured with a [`PoolBuilder`] (process
//! count, chunk size, [`Mode`], retries, timeout, memory cap) and run over an
//! iterator of jobs; [`Run`] yields one [`JobRecord`] per job, in completion
//! order, while the run goes on. Jobs name a [`Task`] from a [`Registry`];
//! a worker binary is a `main` that builds a registry and calls
//! [`worker::main`].
//!
//! # Theory of operation
//! In process mode a single dispatcher thread owns all of the pool's state
//! and talks to persistent worker processes over ipc-channel, in chunks of
//! jobs encoded with bincode ([`wire`]). Workers send results back in
//! batches. When a worker dies the dispatcher keeps the results that
//! arrived, reruns the jobs that did not finish, pins the job at fault by
//! rerunning suspects alone, and replaces the worker. With a capture
//! ([`PoolBuilder::capture`]), each worker keeps what each job writes to
//! its stdout and stderr, for the job's record or its own files
//! ([`worker::capture`]). The threads, who owns
//! what, a chunk's life, the blame rules and the flow-control limits are in
//! `docs/architecture.md` at the root of the repository.
//!
//! ```no_run
//! use procmap::{Input, Mode, Pool, Registry};
//! use procmap::wire::Job;
//!
//! let pool = Pool::builder(Registry::new()).procs(2).mode(Mode::Process).build();
//! let jobs = vec![Input::Job(Job::new(1, "cube", vec!["3".into()]))];
//! for record in pool.run(jobs).unwrap() {
//!     println!("{}", serde_json::to_string(&record).unwrap());
//! }
//! ```

// The engine prints nothing itself, and what a worker must say goes to a
// stderr that may be a broken pipe: a panic there would replace its exit.
#![deny(clippy::print_stderr, clippy::print_stdout)]

pub mod auto;
mod channel;
mod config;
mod death;
mod error;
mod exec;
mod input;
pub mod markdir;
pub mod marker;
mod pool;
mod process;
mod record;
mod run;
mod serial;
mod stats;
pub mod task;
mod threads;
mod unix;
pub mod worker;

pub use config::{Mode, WorkerOutput, capture_impossible, prepare_capture};
pub use death::WorkerDeath;
pub use error::{PoolError, StartFailure};
pub use input::Chunking;
pub use input::Input;
pub use pool::{Pool, PoolBuilder, default_worker_program};
pub use procmap_wire as wire;
pub use procmap_wire::RunContext;
pub use record::{JobRecord, Status, captured_text};
pub use run::{Next, Run, StopHandle};
pub use stats::{AutoChange, AutoLog, ChunkStats, Stats, WorkerStats};
pub use task::{JobError, Registry, Task, temp_file_prefix};
