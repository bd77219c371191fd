//! `supervisor compare`: the same jobs in several configurations.
//! (Being written.)

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The jobs file to run in every configuration.
    #[arg(value_name = "JOBS")]
    pub jobs: PathBuf,
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    anyhow::bail!("compare is not implemented yet ({})", args.jobs.display())
}
