//! `supervisor slurm submit|resubmit`: a batch as a Slurm job array.
//!
//! procmap does not schedule anything itself. `submit` checks the whole
//! jobs file once (what no single shard can check), writes a batch script
//! into the run directory and hands Slurm an array of N tasks; each task is
//! an ordinary `supervisor --shard auto` run on its node, with all of its
//! crash isolation, appending to its own shard journal. `resubmit` hands
//! Slurm again only the shards that are not finished.

mod next_steps;
mod preflight;
mod resubmit;
mod sbatch;
mod script;
mod submit;

pub use resubmit::ResubmitArgs;
pub use submit::SubmitArgs;

use clap::Subcommand;

#[expect(clippy::large_enum_variant, reason = "parsed once per process: its size costs nothing")]
#[derive(Debug, Subcommand)]
pub enum SlurmCommand {
    /// Check a jobs file, write a batch script into a run directory and
    /// submit it as an array of N tasks, one shard each.
    Submit(SubmitArgs),
    /// Submit again only the shards of a run directory that have jobs
    /// without a record (or, with --failed, not ok either).
    Resubmit(ResubmitArgs),
}

pub fn run(command: SlurmCommand, registry: &procmap::Registry) -> anyhow::Result<u8> {
    match command {
        SlurmCommand::Submit(args) => submit::run(args, registry),
        SlurmCommand::Resubmit(args) => resubmit::run(&args),
    }
}
