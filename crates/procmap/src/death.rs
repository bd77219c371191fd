//! How a worker process ended, in words. The dispatcher decides which death
//! it was (`process/death.rs`); this type lives apart from it so that the
//! pool's errors (`error.rs`) can carry one without depending on the
//! dispatcher, which depends on them.

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

/// `512M`-style rendering of a byte count, for messages.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}
