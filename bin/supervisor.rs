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
    // No transparent huge pages: mimalloc reserves its arena before main
    // and advises huge pages on all of it, so where the kernel grants them
    // on advice (the common `madvise` setting), every 2 MiB that threads
    // touched here and there became resident whole: a 45-55 MB peak for a
    // heap that never holds more than ~6 MB, and 4-8 MB more per worker.
    // This flag, which MIMALLOC_ALLOW_THP=0 would set but only before
    // main, makes the kernel map 4 KiB pages only. Workers inherit it
    // across exec, and shrink likewise (15-17 MB to about 5 MB for `cube`).
    let (disable, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: prctl with this option reads only its integer arguments. It
    // fails only on kernels older than 3.15, which then keep huge pages.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, disable, unused, unused, unused) };
    // Return freed memory to the OS at once rather than after 10 ms: with
    // memory freed on other threads than allocated it, the delay alone
    // added a third to the peak RSS of a multi-million-job run.
    // SAFETY: setting an option has no preconditions.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    procmap_cli::main(procmap_tasks::builtin())
}
