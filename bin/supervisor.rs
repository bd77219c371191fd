//! `supervisor`: runs a jobs file on a pool of `supervisor-worker` processes.
//! Everything lives in `procmap-cli`; see `supervisor --help`.

fn main() -> std::process::ExitCode {
    procmap_cli::main(procmap_tasks::builtin())
}
