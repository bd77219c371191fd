//! Which configurations `supervisor compare` measures, and the supervisor
//! arguments that select each one.

use clap::ValueEnum;
use procmap::Chunking;
use std::ffi::OsString;

/// A way to run the jobs, as `--modes` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeChoice {
    /// One job after another, inline: the baseline of the speedup.
    Serial,
    /// Threads of the supervisor.
    Thread,
    /// Worker processes with one thread each.
    Process,
    /// Worker processes with --threads threads each.
    Hybrid,
    /// `--mode auto`: worker processes whose threads the run picks.
    Auto,
}

impl ModeChoice {
    pub fn name(self) -> &'static str {
        match self {
            ModeChoice::Serial => "serial",
            ModeChoice::Thread => "thread",
            ModeChoice::Process => "process",
            ModeChoice::Hybrid => "hybrid",
            ModeChoice::Auto => "auto",
        }
    }
}

/// One configuration: what a single supervisor run is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub mode: ModeChoice,
    /// Worker processes, or threads in thread mode; 1 for serial.
    pub procs: u32,
    /// Threads per worker process; 1 except in hybrid mode.
    pub threads: u32,
    /// None for serial, which does not chunk.
    pub chunksize: Option<Chunking>,
}

impl Config {
    /// How many jobs can run at once: what an ideal speedup would equal.
    pub fn workers(&self) -> u32 {
        self.procs * self.threads
    }

    pub fn chunksize_text(&self) -> String {
        self.chunksize.map_or_else(|| "-".to_owned(), |c| c.to_string())
    }

    /// For progress lines and error messages: `process procs=2 chunksize=64`.
    pub fn describe(&self) -> String {
        match self.mode {
            ModeChoice::Serial => "serial".to_owned(),
            ModeChoice::Hybrid => format!(
                "hybrid procs={} threads={} chunksize={}",
                self.procs,
                self.threads,
                self.chunksize_text()
            ),
            _ => format!("{} procs={} chunksize={}", self.mode.name(), self.procs, self.chunksize_text()),
        }
    }

    /// The supervisor options that select this configuration.
    pub fn supervisor_args(&self) -> Vec<OsString> {
        let mode = match self.mode {
            ModeChoice::Serial => return vec!["--mode".into(), "serial".into()],
            ModeChoice::Thread => "thread",
            ModeChoice::Process | ModeChoice::Hybrid => "process",
            ModeChoice::Auto => "auto",
        };
        let mut args: Vec<OsString> = vec![
            "--mode".into(),
            mode.into(),
            "--procs".into(),
            self.procs.to_string().into(),
            "--chunksize".into(),
            self.chunksize_text().into(),
        ];
        // Thread mode warns about --threads, so only process modes get it.
        if mode == "process" {
            args.extend(["--threads".into(), self.threads.to_string().into()]);
        }
        args
    }
}

/// Every configuration, in table order: modes as given; within a mode,
/// chunksizes, then procs, so that consecutive rows show how one series
/// scales with the number of workers.
pub fn plan(modes: &[ModeChoice], procs: &[u32], chunksizes: &[Chunking], threads: u32) -> Vec<Config> {
    let mut configs = Vec::new();
    for &mode in &dedup(modes) {
        if mode == ModeChoice::Serial {
            configs.push(Config { mode, procs: 1, threads: 1, chunksize: None });
            continue;
        }
        let threads = if mode == ModeChoice::Hybrid { threads } else { 1 };
        for &chunksize in &dedup(chunksizes) {
            for &procs in &dedup(procs) {
                configs.push(Config { mode, procs, threads, chunksize: Some(chunksize) });
            }
        }
    }
    configs
}

/// The default `--procs`: 1, 2, 4, … below the number of cores, and the
/// number of cores itself (1,2 on two cores; 1,2,4,6 on six).
pub fn default_procs(cores: u32) -> Vec<u32> {
    let cores = cores.max(1);
    let mut procs: Vec<u32> =
        std::iter::successors(Some(1u32), |p| p.checked_mul(2)).take_while(|&p| p < cores).collect();
    procs.push(cores);
    procs
}

/// Keeps the first of each repeated value, so `--procs 1,2,1` runs 1 once.
fn dedup<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for &v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_runs_once_and_hybrid_gets_threads() {
        let configs = plan(
            &[ModeChoice::Serial, ModeChoice::Thread, ModeChoice::Hybrid],
            &[1, 2],
            &[Chunking::Fixed(16), Chunking::Auto],
            4,
        );
        assert_eq!(configs.len(), 1 + 4 + 4);
        assert_eq!(configs[0].chunksize, None);
        assert_eq!(configs[0].workers(), 1);
        assert!(configs[1..5].iter().all(|c| c.mode == ModeChoice::Thread && c.threads == 1));
        assert_eq!(configs[5].workers(), 4);
        assert_eq!(configs[8].workers(), 8);
        // Procs vary fastest within a chunksize.
        assert_eq!((configs[1].procs, configs[2].procs), (1, 2));
        assert_eq!(configs[1].chunksize, configs[2].chunksize);
    }

    #[test]
    fn repeated_values_run_once() {
        let configs = plan(&[ModeChoice::Process, ModeChoice::Process], &[2, 2], &[Chunking::Auto], 4);
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].threads, 1);
    }

    #[test]
    fn default_procs_double_up_to_the_cores() {
        assert_eq!(default_procs(1), [1]);
        assert_eq!(default_procs(2), [1, 2]);
        assert_eq!(default_procs(6), [1, 2, 4, 6]);
        assert_eq!(default_procs(8), [1, 2, 4, 8]);
    }

    #[test]
    fn supervisor_args_select_the_mode() {
        let serial = Config { mode: ModeChoice::Serial, procs: 1, threads: 1, chunksize: None };
        assert_eq!(serial.supervisor_args(), ["--mode", "serial"]);
        let thread =
            Config { mode: ModeChoice::Thread, procs: 2, threads: 1, chunksize: Some(Chunking::Auto) };
        assert_eq!(thread.supervisor_args(), ["--mode", "thread", "--procs", "2", "--chunksize", "auto"]);
        let hybrid =
            Config { mode: ModeChoice::Hybrid, procs: 2, threads: 4, chunksize: Some(Chunking::Fixed(16)) };
        assert_eq!(
            hybrid.supervisor_args(),
            ["--mode", "process", "--procs", "2", "--chunksize", "16", "--threads", "4"]
        );
        assert_eq!(hybrid.describe(), "hybrid procs=2 threads=4 chunksize=16");
        let auto = Config { mode: ModeChoice::Auto, procs: 2, threads: 1, chunksize: Some(Chunking::Auto) };
        assert_eq!(auto.supervisor_args(), ["--mode", "auto", "--procs", "2", "--chunksize", "auto"]);
    }
}
