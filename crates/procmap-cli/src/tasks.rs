//! `supervisor tasks`: every task with its arguments and one line of help,
//! the built-in ones or those a worker program reports.

use crate::exit;
use clap::Args;
use procmap::{Pool, Registry};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// List the tasks of this worker program instead (a custom worker's
    /// own tasks included), as it reports them when it starts.
    #[arg(long, value_name = "PATH", conflicts_with = "python")]
    pub worker: Option<PathBuf>,
    /// List the `@procmap.task` functions of this Python file instead.
    #[arg(long, value_name = "FILE")]
    pub python: Option<PathBuf>,
}

pub fn run(args: &TasksArgs, registry: Registry) -> anyhow::Result<u8> {
    let tasks = match (&args.worker, &args.python) {
        (None, None) => registry.infos(),
        (worker, python) => worker_tasks(registry, worker.clone(), python.as_deref())?,
    };
    print_tasks(&tasks);
    Ok(exit::OK)
}

/// The tasks a worker reports in its handshake, for `--worker PATH` or
/// `--python FILE`.
fn worker_tasks(
    registry: Registry,
    worker: Option<PathBuf>,
    python: Option<&std::path::Path>,
) -> anyhow::Result<Vec<procmap::wire::TaskInfo>> {
    let (program, args) = match python {
        Some(file) => crate::python::worker_for(file)?,
        None => (crate::worker::resolve_worker(worker)?, Vec::new()),
    };
    let pool = Pool::builder(registry).worker_program(program).worker_args(args).build();
    pool.worker_tasks().map_err(crate::worker::explain_pool_error)
}

fn print_tasks(infos: &[procmap::wire::TaskInfo]) {
    let width = infos.iter().map(|t| t.name.len() + t.usage.len() + 1).max().unwrap_or(0);
    for t in infos {
        let form = format!("{} {}", t.name, t.usage);
        tell!("{form:width$}  {}", t.about);
    }
}
