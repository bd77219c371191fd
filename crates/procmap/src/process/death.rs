//! Explaining a worker's death: which signal or exit code, whether procmap
//! caused it, and what it most likely means.

use super::state::KillReason;
use crate::death::WorkerDeath;
use crate::unix::{Exit, signal_name};

pub(crate) fn classify(
    exit: &Exit,
    killed: Option<KillReason>,
    stderr: &str,
    mem_limit: Option<u64>,
) -> WorkerDeath {
    let out_of_memory = stderr.contains("memory allocation of");
    match *exit {
        Exit::Signal(sig) => {
            let signal = signal_name(sig);
            match sig {
                _ if killed.is_some() => WorkerDeath::KilledByUs { signal },
                libc::SIGABRT if out_of_memory => WorkerDeath::OutOfMemory { signal, mem_limit },
                libc::SIGABRT => WorkerDeath::Aborted { signal },
                libc::SIGSEGV | libc::SIGBUS => WorkerDeath::InvalidAccess { signal },
                libc::SIGKILL => WorkerDeath::ForeignKill { signal },
                _ => WorkerDeath::Signal { signal },
            }
        }
        Exit::Code(code) if code == i32::from(procmap_wire::EXIT_PANIC) => WorkerDeath::Panicked { code },
        Exit::Code(code) if out_of_memory => WorkerDeath::OutOfMemoryExit { code },
        Exit::Code(code) => WorkerDeath::Exited { code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aborted_allocation_is_out_of_memory() {
        let d = classify(
            &Exit::Signal(libc::SIGABRT),
            None,
            "memory allocation of 1073741824 bytes failed",
            Some(512 << 20),
        );
        assert_eq!(d.signal(), Some("SIGABRT"));
        let cause = d.to_string();
        assert!(cause.contains("ran out of memory"), "{cause}");
        assert!(cause.contains("--mem-limit 512M"), "{cause}");
    }

    #[test]
    fn a_foreign_sigkill_is_probably_the_oom_killer() {
        let d = classify(&Exit::Signal(libc::SIGKILL), None, "", None);
        assert!(d.to_string().contains("out-of-memory killer"), "{d}");
    }

    #[test]
    fn exit_codes_are_kept() {
        let d = classify(&Exit::Code(7), None, "", None);
        assert_eq!((d.signal(), d.exit_code()), (None, Some(7)));
        assert_eq!(d.to_string(), "exited with code 7");
    }
}
