//! Explaining a worker's death: which signal or exit code, whether procmap
//! caused it, and what it most likely means.

use super::state::KillReason;
use crate::unix::{Exit, signal_name};

/// A worker's death, classified for the records of the jobs it took along.
#[derive(Debug, Clone)]
pub(crate) struct Death {
    pub signal: Option<String>,
    pub exit_code: Option<i32>,
    /// What happened, in words, without the job's point of view.
    pub cause: String,
}

pub(crate) fn classify(
    exit: &Exit,
    killed: Option<KillReason>,
    stderr: &str,
    mem_limit: Option<u64>,
) -> Death {
    let out_of_memory = stderr.contains("memory allocation of");
    let (signal, exit_code, cause) = match *exit {
        Exit::Signal(sig) => {
            let name = signal_name(sig);
            let cause = match sig {
                _ if killed.is_some() => format!("was killed by procmap ({name})"),
                libc::SIGABRT if out_of_memory => format!(
                    "ran out of memory: an allocation failed{} and the worker aborted",
                    mem_limit.map(|m| format!(" under --mem-limit {}", human_bytes(m))).unwrap_or_default()
                ),
                libc::SIGABRT => {
                    format!("aborted ({name}: abort(), a stack overflow or a failed allocation)")
                }
                libc::SIGSEGV | libc::SIGBUS => {
                    format!("was killed by {name}: an invalid memory access, in unsafe or native code")
                }
                libc::SIGKILL => format!(
                    "was killed by {name}, which procmap did not send: most likely the kernel's \
                     out-of-memory killer (probably out of memory)"
                ),
                _ => format!("was killed by {name}"),
            };
            (Some(name), None, cause)
        }
        Exit::Code(code) => {
            let cause = match code {
                c if c == i32::from(procmap_wire::EXIT_PANIC) => {
                    format!("exited with code {c}: a panic escaped the worker runtime")
                }
                _ if out_of_memory => format!("ran out of memory and exited with code {code}"),
                _ => format!("exited with code {code}"),
            };
            (None, Some(code), cause)
        }
    };
    Death { signal, exit_code, cause }
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
        assert_eq!(d.signal.as_deref(), Some("SIGABRT"));
        assert!(d.cause.contains("ran out of memory"), "{}", d.cause);
        assert!(d.cause.contains("--mem-limit 512M"), "{}", d.cause);
    }

    #[test]
    fn a_foreign_sigkill_is_probably_the_oom_killer() {
        let d = classify(&Exit::Signal(libc::SIGKILL), None, "", None);
        assert!(d.cause.contains("out-of-memory killer"), "{}", d.cause);
    }

    #[test]
    fn exit_codes_are_kept() {
        let d = classify(&Exit::Code(7), None, "", None);
        assert_eq!((d.signal, d.exit_code), (None, Some(7)));
    }
}
