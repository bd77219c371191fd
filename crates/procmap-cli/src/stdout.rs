//! Data on stdout, such as the merged journal of `merge -o -`.
//!
//! A report or a listing goes through `tell!`, which drops what a closed
//! stdout cannot take. Data is different: a reader that went away has lost
//! records, and a script must not take that for success. So a failed write
//! is an error of its own, which `main` maps to the exit code of a journal
//! that could not be written.

/// Writing data to stdout failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The pipe's reader went away (`| head`): what it did not read is lost.
    #[error("cannot write {what} to stdout: its reader went away (broken pipe)")]
    ReaderGone { what: &'static str },
    /// Any other failure: a closed stdout, a full disk behind a redirection.
    #[error("cannot write {what} to stdout")]
    Write {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl DataError {
    pub fn new(what: &'static str, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::BrokenPipe => DataError::ReaderGone { what },
            _ => DataError::Write { what, source },
        }
    }
}
