//! `supervisor-worker`: the worker process that `supervisor` spawns. It runs
//! the built-in tasks; to add your own, write a binary like this one that
//! registers them too (see `examples/custom-worker`).

// Records are allocated on the dispatcher thread and freed on the journal
// thread; glibc's malloc spends a third of the run on such frees, mimalloc
// a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    procmap::worker::main(procmap_tasks::builtin())
}
