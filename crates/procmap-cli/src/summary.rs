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
    /// `--mode auto`: the threads per worker come from `Stats::auto`.
    pub auto: bool,
}

/// What an auto run chose, when and why: its first decision and every
/// change, the first and last few of a long list.
fn auto_lines(decisions: &[procmap::AutoChange]) -> String {
    if decisions.is_empty() {
        return "  auto: too few jobs to decide on (the first window is 0.05 s and 8 jobs): 1 thread per worker\n"
            .to_owned();
    }
    const SHOWN: usize = 6;
    let mut out = String::new();
    for (i, d) in decisions.iter().enumerate() {
        if decisions.len() > SHOWN && i == SHOWN / 2 {
            out.push_str(&format!("  auto: … {} more changes …\n", decisions.len() - SHOWN));
        }
        if decisions.len() <= SHOWN || i < SHOWN / 2 || i >= decisions.len() - SHOWN / 2 {
            out.push_str(&format!("  auto at {:.2}s: {}\n", d.at.as_secs_f64(), d.reason));
        }
    }
    out
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
    let decisions = stats.map_or(&[][..], |s| &s.auto[..]);
    let threads = match decisions.last() {
        Some(last) if setting.auto => last.threads,
        _ if setting.auto => 1,
        _ => setting.threads,
    };
    let workers = match (setting.mode, threads) {
        (Mode::Process, 1) => format!("{} procs", setting.procs),
        (Mode::Process, t) => format!("{} procs × {t} threads", setting.procs),
        (_, _) => format!("{} threads", setting.procs),
    };
    out.push_str(&format!(
        "procmap: {n} jobs in {secs:.2}s, {:.0} jobs/s ({} mode, {workers}{}, chunksize {})\n",
        n as f64 / secs,
        if setting.auto { "auto" } else { mode_name(setting.mode) },
        if setting.auto && decisions.len() > 1 { " at the end" } else { "" },
        setting.chunksize,
    ));
    if setting.auto {
        out.push_str(&auto_lines(decisions));
    }
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
