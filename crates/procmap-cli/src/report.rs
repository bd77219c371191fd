//! `supervisor report RUN -o report.html`: a run as a picture, drawn by
//! the procmap-report crate (which the Python package shares).

pub use procmap_report::ReportError;

use clap::Args;
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
    let rendered = procmap_report::render(paths)?;
    let page = &rendered.page;
    procmap_report::write(page, output)?;
    say!(
        "supervisor report: {} records ({} drawn{}) from {} journal(s) into {} ({} KB)",
        page.records,
        page.drawn,
        if page.bucketed { ", in time buckets" } else { "" },
        rendered.journals,
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
