//! A run as a picture: one self-contained HTML file (inline SVG and CSS,
//! nothing fetched) with each worker's timeline, throughput and busy
//! workers over time, the counts by status, the slowest jobs and the
//! failures grouped by error text. `supervisor report` and the Python
//! package's `procmap.report` both draw with [`render`].
//!
//! `load.rs` reads the journals (through procmap-batch's one reader),
//! `model.rs` aggregates (pure functions), `html.rs` and `svg.rs` draw. Up
//! to [`html::MAX_BARS`] jobs are drawn one bar each; beyond, each lane is
//! cut into time buckets drawn as cells in the worst status they hold, so a
//! million jobs make a page of a few hundred KB.

#![deny(clippy::print_stderr, clippy::print_stdout)]

mod error;
mod html;
mod load;
mod model;
mod svg;

pub use error::ReportError;
pub use html::Page;

use procmap_batch::ledger::Sources;
use std::path::{Path, PathBuf};

/// A page and what it was drawn from.
pub struct Rendered {
    pub page: Page,
    /// How many journals it read.
    pub journals: usize,
}

/// The page of the run at `paths`: a run directory, or journals.
pub fn render(paths: &[PathBuf]) -> Result<Rendered, ReportError> {
    let sources = Sources::from_paths(paths, None, None).map_err(ReportError::Sources)?;
    let loaded = load::load(&sources.journals)?;
    Ok(Rendered { page: html::page(loaded), journals: sources.journals.len() })
}

/// Writes `page` to `output`.
pub fn write(page: &Page, output: &Path) -> Result<(), ReportError> {
    std::fs::write(output, page.text.as_bytes())
        .map_err(|source| ReportError::Write { path: output.to_owned(), source })
}
