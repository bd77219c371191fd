//! `supervisor`: runs a jobs file on a pool of `supervisor-worker` processes.
//! Everything lives in `procmap-cli`; see `supervisor --help`.

// Records are allocated on the dispatcher thread and freed on the journal
// thread; glibc's malloc spends a third of the run on such frees, mimalloc
// a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    procmap_cli::main(procmap_tasks::builtin())
}
