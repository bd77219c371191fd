//! Explaining a worker's death: which signal or exit code, whether procmap
//! caused it, and what it most likely means.

use super::state::KillReason;
use crate::unix::{Exit, signal_name};

/// How a worker process ended, classified for the records of the jobs it
/// took along and for errors. Its `Display` says what happened in words,
/// without the job's point of view: "worker 123 {death}" reads as a
/// sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerDeath {
    #[error("was killed by procmap ({signal})")]
    KilledByUs { signal: String },
    #[error(
        "ran out of memory: an allocation failed{} and the worker aborted",
        mem_limit.map(|m| format!(" under --mem-limit {}", human_bytes(m))).unwrap_or_default()
    )]
    OutOfMemory { signal: String, mem_limit: Option<u64> },
    #[error("aborted ({signal}: abort(), a stack overflow or a failed allocation)")]
    Aborted { signal: String },
    #[error("was killed by {signal}: an invalid memory access, in unsafe or native code")]
    InvalidAccess { signal: String },
    #[error(
        "was killed by {signal}, which procmap did not send: most likely the kernel's \
         out-of-memory killer (probably out of memory)"
    )]
    ForeignKill { signal: String },
    #[error("was killed by {signal}")]
    Signal { signal: String },
    #[error("exited with code {code}: a panic escaped the worker runtime")]
    Panicked { code: i32 },
    #[error("ran out of memory and exited with code {code}")]
    OutOfMemoryExit { code: i32 },
    #[error("exited with code {code}")]
    Exited { code: i32 },
}

impl WorkerDeath {
    /// The signal's name (`SIGSEGV`), if a signal ended it.
    pub fn signal(&self) -> Option<&str> {
        use WorkerDeath::*;
        match self {
            KilledByUs { signal }
            | OutOfMemory { signal, .. }
            | Aborted { signal }
            | InvalidAccess { signal }
            | ForeignKill { signal }
            | Signal { signal } => Some(signal),
            Panicked { .. } | OutOfMemoryExit { .. } | Exited { .. } => None,
        }
    }

    /// Its exit code, if it exited.
    pub fn exit_code(&self) -> Option<i32> {
        use WorkerDeath::*;
        match self {
            Panicked { code } | OutOfMemoryExit { code } | Exited { code } => Some(*code),
            _ => None,
        }
    }
}

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

/// `512M`-style rendering of a byte count, for messages.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
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
