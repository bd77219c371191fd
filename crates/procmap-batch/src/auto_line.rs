//! The journal line of one `--mode auto` decision, written where it was
//! made among the records of its segment:
//!
//! ```json
//! {"auto":{"at_ms":512.3,"procs":2,"threads":64,"reason":"jobs use 1% of a CPU while they run: ..."}}
//! ```
//!
//! Readers tell it by its first key ([`crate::journal::parse_line`] says
//! [`crate::journal::Line::Auto`]) and skip it: it is neither a record nor
//! a header, so it starts no segment.

use serde::{Deserialize, Serialize};

/// What a decision line holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoDecision {
    /// When it was made, in milliseconds since the segment's run started.
    pub at_ms: f64,
    pub procs: usize,
    /// Threads per worker from then on.
    pub threads: usize,
    pub reason: String,
}

/// The line as it is written, `{"auto":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoLine {
    pub auto: AutoDecision,
}

impl From<&procmap::AutoChange> for AutoLine {
    fn from(change: &procmap::AutoChange) -> Self {
        AutoLine {
            auto: AutoDecision {
                // Whole microseconds: enough, and short.
                at_ms: (change.at.as_micros() as f64) / 1e3,
                procs: change.procs,
                threads: change.threads,
                reason: change.reason.clone(),
            },
        }
    }
}

/// The first bytes of every decision line, what readers tell it by.
pub(crate) const PREFIX: &[u8] = b"{\"auto\":";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_line_starts_with_its_prefix_and_reads_back() {
        let change = procmap::AutoChange {
            at: std::time::Duration::from_micros(512_300),
            procs: 2,
            threads: 64,
            reason: "jobs use 1% of a CPU while they run".into(),
        };
        let line = serde_json::to_vec(&AutoLine::from(&change)).unwrap();
        assert!(line.starts_with(PREFIX), "{}", String::from_utf8_lossy(&line));
        let back: AutoLine = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.auto.at_ms, 512.3);
        assert_eq!(back.auto.threads, 64);
    }
}
