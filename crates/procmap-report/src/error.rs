//! Why `supervisor report` could not make a page.

use std::path::PathBuf;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The paths are not a run directory or journals.
    #[error("{0:#}")]
    Sources(anyhow::Error),
    /// A journal named on the command line cannot be opened.
    #[error("cannot open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading a journal failed midway.
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A journal written by a newer procmap.
    #[error(transparent)]
    Format(#[from] procmap_batch::journal::NewerFormat),
    /// The page cannot be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
