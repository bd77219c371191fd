//! `supervisor-worker`: the worker process that `supervisor` spawns. It runs
//! the built-in tasks; to add your own, write a binary like this one that
//! registers them too (see `examples/custom-worker`).

fn main() -> std::process::ExitCode {
    procmap::worker::main(procmap_tasks::builtin())
}
