//! `results.csv`: the table's columns at full precision, plus every run's
//! wall time, for plotting or comparing elsewhere. A value that was not
//! measured (speedup without a serial run, serial's chunksize) is empty.

use super::results::Results;

pub const HEADER: &str = "mode,procs,threads,chunksize,workers,jobs,failed,wall_s,jobs_per_s,speedup,efficiency,runs_wall_s,cpu_ms_per_job";

pub fn render(results: &Results) -> String {
    let mut out = format!("{HEADER}\n");
    for row in &results.rows {
        let c = &row.config;
        let optional = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.4}"));
        // Semicolons, so that the list stays one CSV field without quoting.
        let runs: Vec<String> = row.walls.iter().map(|w| format!("{:.6}", w.as_secs_f64())).collect();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{:.6},{:.3},{},{},{},{:.6}\n",
            c.mode.name(),
            c.procs,
            c.threads,
            c.chunksize.map_or_else(String::new, |c| c.to_string()),
            c.workers(),
            row.jobs,
            row.failed,
            row.wall_secs(),
            row.jobs_per_sec(),
            optional(results.speedup(row)),
            optional(results.efficiency(row)),
            runs.join(";"),
            row.cpu_ms_per_job(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::plan::ModeChoice;
    use crate::compare::results::tests::row;

    #[test]
    fn one_line_per_configuration() {
        let results = Results {
            rows: vec![row(ModeChoice::Serial, 1, 1, 2000), row(ModeChoice::Hybrid, 2, 4, 500)],
            jobs: 1000,
            repeat: 2,
        };
        let text = render(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "serial,1,1,,1,1000,0,2.000000,500.000,1.0000,1.0000,2.005000;2.000000,1.000000"
        );
        assert_eq!(
            lines[2],
            "hybrid,2,4,auto,8,1000,0,0.500000,2000.000,4.0000,0.5000,0.505000;0.500000,0.250000"
        );
        let columns = HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
    }
}
