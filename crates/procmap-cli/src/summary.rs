//! The end-of-run summary on stderr.

use procmap::{Mode, Stats, Status};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default)]
pub struct Tally {
    pub by_status: BTreeMap<Status, u64>,
    pub skipped: u64,
    /// Of the skipped, those whose latest record is not ok.
    pub left_failed: u64,
}

impl Tally {
    pub fn add(&mut self, status: Status) {
        *self.by_status.entry(status).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Every job of the batch is ok: those that ran, and those a resume
    /// skipped (a failed record left as it is counts as a failure).
    pub fn all_ok(&self) -> bool {
        self.left_failed == 0 && self.by_status.iter().all(|(s, n)| *s == Status::Ok || *n == 0)
    }
}

pub struct Setting {
    pub mode: Mode,
    pub procs: usize,
    /// Threads per worker process.
    pub threads: usize,
    pub chunksize: String,
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Process => "process",
        Mode::Thread => "thread",
        Mode::Serial => "serial",
    }
}

pub fn render(tally: &Tally, stats: Option<&Stats>, wall: Duration, setting: &Setting) -> String {
    let mut out = String::new();
    let n = tally.total();
    let secs = wall.as_secs_f64().max(1e-9);
    let workers = match (setting.mode, setting.threads) {
        (Mode::Process, 1) => format!("{} procs", setting.procs),
        (Mode::Process, t) => format!("{} procs × {t} threads", setting.procs),
        (_, _) => format!("{} threads", setting.procs),
    };
    out.push_str(&format!(
        "procmap: {n} jobs in {secs:.2}s, {:.0} jobs/s ({} mode, {workers}, chunksize {})\n",
        n as f64 / secs,
        mode_name(setting.mode),
        setting.chunksize,
    ));
    let statuses: Vec<String> = Status::ALL
        .iter()
        .filter_map(|s| tally.by_status.get(s).map(|n| format!("{} {n}", s.as_str())))
        .collect();
    if !statuses.is_empty() {
        out.push_str(&format!("  {}\n", statuses.join(", ")));
    }
    if tally.skipped > 0 {
        out.push_str(&format!("  skipped {} already in the journal\n", tally.skipped));
        if tally.left_failed > 0 {
            out.push_str(&format!(
                "  of which {} not ok in the journal (--resume-failed reruns them)\n",
                tally.left_failed
            ));
        }
    }
    if let Some(stats) = stats {
        if let Some(startup) = stats.startup {
            out.push_str(&format!(
                "  {} workers started and ready in {:.1} ms\n",
                setting.procs,
                startup.as_secs_f64() * 1e3
            ));
        }
        let c = &stats.chunks;
        if c.count > 0 {
            out.push_str(&format!(
                "  {} chunks of {}–{} jobs (mean {:.1})\n",
                c.count,
                c.min,
                c.max,
                c.mean()
            ));
        }
        const LISTED: usize = 8;
        for w in stats.workers.iter().take(LISTED) {
            let label = match setting.mode {
                Mode::Process => format!("worker {}", w.id),
                Mode::Thread => format!("thread {}", w.id),
                Mode::Serial => "inline".to_owned(),
            };
            out.push_str(&format!(
                "  {label}: {} jobs, busy {:.2}s ({:.0}% of wall time), last result at {:.3}s\n",
                w.jobs,
                w.busy.as_secs_f64(),
                100.0 * w.busy.as_secs_f64() / secs,
                w.last_result.as_secs_f64()
            ));
        }
        if stats.workers.len() > LISTED {
            let rest = &stats.workers[LISTED..];
            let jobs: u64 = rest.iter().map(|w| w.jobs).sum();
            out.push_str(&format!("  … and {} more workers: {jobs} jobs\n", rest.len()));
        }
        let replaced = (stats.spawned as usize).saturating_sub(setting.procs);
        if setting.mode == Mode::Process && replaced > 0 {
            out.push_str(&format!(
                "  {replaced} worker process(es) replaced (crashes, timeouts or recycling)\n"
            ));
        }
    }
    out
}
