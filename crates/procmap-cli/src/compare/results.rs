//! The measurements of every configuration and the numbers derived from
//! them, shared by the table, the CSV and the chart so that all three agree.

use super::plan::{Config, ModeChoice};
use std::time::Duration;

/// One configuration, measured `walls.len()` times.
#[derive(Debug, Clone)]
pub struct Row {
    pub config: Config,
    /// Every run's wall time, in the order they ran.
    pub walls: Vec<Duration>,
    /// The CPU time of the best run (see [`Row::best`]).
    pub cpu: Duration,
    /// Jobs in the journal (the same in every run, or compare stops).
    pub jobs: usize,
    /// Jobs not ok in the best run.
    pub failed: usize,
}

impl Row {
    /// The best (shortest) run: the least disturbed by the rest of the
    /// machine, which is what repeating is for.
    pub fn best(&self) -> Duration {
        self.walls.iter().copied().min().unwrap_or_default()
    }

    pub fn wall_secs(&self) -> f64 {
        // A run cannot take zero time, but a division by it must not be inf.
        self.best().as_secs_f64().max(1e-9)
    }

    pub fn jobs_per_sec(&self) -> f64 {
        self.jobs as f64 / self.wall_secs()
    }

    /// CPU milliseconds per job in the best run, supervisor and workers.
    pub fn cpu_ms_per_job(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 / self.jobs.max(1) as f64
    }
}

/// All rows, with the serial wall time that speedups are measured against.
pub struct Results {
    pub rows: Vec<Row>,
    /// Jobs in each run.
    pub jobs: usize,
    pub repeat: u32,
}

impl Results {
    /// The serial run's wall time: without a serial run there is no
    /// speedup, rather than one relative to an arbitrary configuration.
    pub fn baseline(&self) -> Option<f64> {
        self.rows.iter().find(|r| r.config.mode == ModeChoice::Serial).map(Row::wall_secs)
    }

    /// Serial wall time ÷ this wall time.
    pub fn speedup(&self, row: &Row) -> Option<f64> {
        self.baseline().map(|serial| serial / row.wall_secs())
    }

    /// Speedup ÷ workers (procs × threads): 1.0 is a perfect use of them.
    pub fn efficiency(&self, row: &Row) -> Option<f64> {
        self.speedup(row).map(|s| s / f64::from(row.config.workers()))
    }

    pub fn any_failed(&self) -> bool {
        self.rows.iter().any(|r| r.failed > 0)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use procmap::Chunking;

    pub fn row(mode: ModeChoice, procs: u32, threads: u32, ms: u64) -> Row {
        let chunksize = (mode != ModeChoice::Serial).then_some(Chunking::Auto);
        Row {
            config: Config { mode, procs, threads, chunksize },
            walls: vec![Duration::from_millis(ms + 5), Duration::from_millis(ms)],
            cpu: Duration::from_millis(ms / 2),
            jobs: 1000,
            failed: 0,
        }
    }

    #[test]
    fn speedup_is_relative_to_serial() {
        let results = Results {
            rows: vec![row(ModeChoice::Serial, 1, 1, 1000), row(ModeChoice::Hybrid, 2, 2, 500)],
            jobs: 1000,
            repeat: 2,
        };
        let [serial, hybrid] = &results.rows[..] else { unreachable!() };
        assert_eq!(serial.best(), Duration::from_millis(1000));
        assert!((results.speedup(serial).expect("speedup") - 1.0).abs() < 1e-12);
        assert!((results.speedup(hybrid).expect("speedup") - 2.0).abs() < 1e-12);
        assert!((results.efficiency(hybrid).expect("efficiency") - 0.5).abs() < 1e-12);
        assert!((hybrid.jobs_per_sec() - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn no_serial_no_speedup() {
        let results = Results { rows: vec![row(ModeChoice::Thread, 2, 1, 500)], jobs: 1000, repeat: 1 };
        assert_eq!(results.speedup(&results.rows[0]), None);
        assert_eq!(results.efficiency(&results.rows[0]), None);
    }
}
