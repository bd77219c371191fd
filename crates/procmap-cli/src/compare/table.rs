//! The comparison as an aligned text table (seed 000's "Table 2").

use super::results::Results;

pub const HEADERS: [&str; 10] = [
    "mode",
    "procs",
    "threads",
    "chunksize",
    "wall s",
    "jobs/s",
    "cpu ms/job",
    "speedup",
    "efficiency",
    "failed",
];

/// Only the mode is text; the other columns, chunksize's `auto` and `-`
/// included, line up on the right like numbers.
const TEXT_COLUMNS: usize = 1;

/// A caption line, then the table, one line per configuration.
pub fn render(results: &Results, jobs_file: &str) -> String {
    let mut out = caption(results, jobs_file);
    let cells: Vec<[String; 10]> = results
        .rows
        .iter()
        .map(|row| {
            let c = &row.config;
            [
                c.mode.name().to_owned(),
                c.procs.to_string(),
                c.threads.to_string(),
                c.chunksize_text(),
                format!("{:.3}", row.wall_secs()),
                rate(row.jobs_per_sec()),
                format!("{:.3}", row.cpu_ms_per_job()),
                results.speedup(row).map_or_else(|| "-".to_owned(), |s| format!("{s:.2}")),
                results.efficiency(row).map_or_else(|| "-".to_owned(), |e| format!("{e:.2}")),
                row.failed.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for line in &cells {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header = HEADERS.map(str::to_owned);
    out.push_str(&line(&header, &widths));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for cells in &cells {
        out.push_str(&line(cells, &widths));
    }
    if results.any_failed() {
        out.push_str(
            "note: some jobs failed (column failed); they count in jobs/s like the others, \
             as they would in a real run\n",
        );
    }
    out
}

fn caption(results: &Results, jobs_file: &str) -> String {
    let runs = match results.repeat {
        1 => "one run per configuration".to_owned(),
        n => format!("best of {n} runs per configuration (minimum wall time)"),
    };
    let speedup = match results.baseline() {
        Some(serial) => {
            format!("speedup vs serial ({serial:.3} s); efficiency = speedup ÷ (procs × threads)")
        }
        None => "no serial run, so no speedup or efficiency (add serial to --modes)".to_owned(),
    };
    format!("{} jobs from {jobs_file}, {runs}; {speedup}\n", results.jobs)
}

fn line(cells: &[String; 10], widths: &[usize; 10]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (cell, &w))| if i < TEXT_COLUMNS { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
        .collect();
    // No trailing spaces after the last column.
    format!("{}\n", padded.join("  ").trim_end())
}

/// Jobs per second: whole numbers once they are big enough to need no
/// decimals to compare.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 100.0 { format!("{per_sec:.0}") } else { format!("{per_sec:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::plan::ModeChoice;
    use crate::compare::results::tests::row;

    #[test]
    fn aligned_rows_with_speedups() {
        let results = Results {
            rows: vec![row(ModeChoice::Serial, 1, 1, 2000), row(ModeChoice::Process, 2, 1, 1000)],
            jobs: 1000,
            repeat: 3,
        };
        let text = render(&results, "jobs.txt");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("best of 3 runs"), "{text}");
        assert_eq!(
            lines[1],
            "mode     procs  threads  chunksize  wall s  jobs/s  cpu ms/job  speedup  efficiency  failed"
        );
        assert_eq!(
            lines[3],
            "serial       1        1          -   2.000     500       1.000     1.00        1.00       0"
        );
        assert_eq!(
            lines[4],
            "process      2        1       auto   1.000    1000       0.500     2.00        1.00       0"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn without_serial_speedup_is_a_dash() {
        let results = Results { rows: vec![row(ModeChoice::Thread, 2, 1, 10)], jobs: 1000, repeat: 1 };
        let text = render(&results, "jobs.txt");
        assert!(text.contains("no serial run"), "{text}");
        assert!(text.lines().nth(3).is_some_and(|l| l.ends_with("-           -       0")), "{text}");
    }
}
