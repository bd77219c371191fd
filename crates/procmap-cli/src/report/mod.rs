//! `supervisor report RUN -o report.html`: a run as a picture. One
//! self-contained HTML file (inline SVG and CSS, nothing fetched) with each
//! worker's timeline, throughput and busy workers over time, the counts by
//! status, the slowest jobs and the failures grouped by error text.
//!
//! `load.rs` reads the journals, `model.rs` aggregates (pure functions),
//! `html.rs` and `svg.rs` draw. Up to [`html::MAX_BARS`] jobs are drawn one
//! bar each; beyond, each lane is cut into time buckets drawn as cells in
//! the worst status they hold, so a million jobs make a page of a few
//! hundred KB.

mod error;
mod html;
mod load;
mod model;
mod svg;

pub use error::ReportError;

use clap::Args;
use procmap_batch::ledger::Sources;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_help = "\
RUN is a run directory (every shard, each a group of lanes), one journal or
several. Jobs are placed by each record's \"start\" (journals written before
it existed are counted but not drawn). Nothing in the page is fetched from the
network: open it anywhere, mail it, attach it to a ticket.

Examples:
  supervisor report results.jsonl -o report.html
  supervisor report run/ -o report.html

Exit codes: 0 written; 2 unreadable run directory or journal, or an output
that cannot be written.")]
pub struct ReportArgs {
    /// A run directory, or journals (see `supervisor status --help`).
    #[arg(required = true, value_name = "RUN")]
    pub paths: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output", value_name = "PATH", required = true)]
    pub output: PathBuf,
}

pub fn run(args: &ReportArgs) -> Result<u8, ReportError> {
    write(&args.paths, &args.output)?;
    Ok(crate::exit::OK)
}

/// Writes the report of the run at `paths` (a run directory or journals)
/// to `output`, and says what it holds.
pub fn write(paths: &[PathBuf], output: &Path) -> Result<(), ReportError> {
    let sources = Sources::from_paths(paths, None, None).map_err(ReportError::Sources)?;
    let loaded = load::load(&sources.journals)?;
    let page = html::page(loaded);
    let failed = |e| ReportError::Write { path: output.to_owned(), source: e };
    std::fs::write(output, page.text.as_bytes()).map_err(failed)?;
    say!(
        "supervisor report: {} records ({} drawn{}) from {} journal(s) into {} ({} KB)",
        page.records,
        page.drawn,
        if page.bucketed { ", in time buckets" } else { "" },
        sources.journals.len(),
        output.display(),
        page.text.len().div_ceil(1024),
    );
    if page.undrawn > 0 {
        say!(
            "supervisor report: {} records carry no \"start\" (written by an older version): counted, not drawn",
            page.undrawn
        );
    }
    Ok(())
}
