//! `supervisor`: runs a jobs file on a pool of `supervisor-worker` processes.
//! Everything lives in `procmap-cli`; see `supervisor --help`.

// Records are allocated on the dispatcher thread and freed on the journal
// thread; glibc's malloc spends a third of the run on such frees, mimalloc
// a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3), which the Rust
/// bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Return freed memory to the OS at once rather than after 10 ms: with
    // memory freed on other threads than allocated it, the delay alone
    // added a third to the peak RSS of a multi-million-job run.
    // SAFETY: setting an option has no preconditions.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    procmap_cli::main(procmap_tasks::builtin())
}
