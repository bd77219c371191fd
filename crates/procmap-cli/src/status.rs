//! `supervisor status DIR|JOURNAL...`: how far a batch has got, per shard
//! and in total, while it runs or after. Reads only files, so it works on a
//! login node, on one machine, or on journals copied from anywhere.

use crate::exit;
use clap::Args;
use procmap::Status;
use procmap_batch::ledger::{Latest, Ledger, Sources};
use serde::Serialize;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
A job's status is that of its latest record; a job with no record is missing
(its shard has not run yet, is running, or was cancelled). Records are matched
to jobs by identity (the line's text and occurrence), so they survive lines
inserted above them. Exit codes: 0 every job has an ok record; 1 some job is
missing or not ok; 2 unreadable run directory, journal or jobs file.

Examples:
  supervisor status run/                        # a run directory
  supervisor status --json run/ | jq .total
  supervisor status --jobs jobs.txt results.jsonl";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct StatusArgs {
    /// A run directory (with run.json), or journals; a journal named
    /// shard-IIII-of-NNNN.jsonl holds shard I of N, any other the whole batch.
    #[arg(required = true, value_name = "DIR|JOURNAL")]
    pub paths: Vec<PathBuf>,
    /// The jobs file, to count the jobs that have no record yet. Default:
    /// the one in the run directory's run.json.
    #[arg(long, value_name = "FILE")]
    pub jobs: Option<PathBuf>,
    /// With --jobs: every line is the arguments of task NAME.
    #[arg(short, long, value_name = "NAME", requires = "jobs")]
    pub task: Option<String>,
    /// Print the report as one JSON object instead.
    #[arg(long)]
    pub json: bool,
    /// How many failed jobs to list (all of them up to 1000 with --json).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub failed: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub jobs: u64,
    pub ok: u64,
    pub error: u64,
    pub crashed: u64,
    pub timeout: u64,
    /// Jobs with no record; 0 when the jobs file is unknown.
    pub missing: u64,
    /// Seconds the jobs' latest attempts ran, summed.
    pub busy_s: f64,
}

impl Counts {
    fn add(&mut self, latest: Option<&Latest>) {
        self.jobs += 1;
        let Some(l) = latest else {
            self.missing += 1;
            return;
        };
        self.busy_s += l.ms / 1e3;
        *match l.status {
            Status::Ok => &mut self.ok,
            Status::Error => &mut self.error,
            Status::Crashed => &mut self.crashed,
            Status::Timeout => &mut self.timeout,
        } += 1;
    }

    fn merge(&mut self, other: &Counts) {
        self.jobs += other.jobs;
        self.ok += other.ok;
        self.error += other.error;
        self.crashed += other.crashed;
        self.timeout += other.timeout;
        self.missing += other.missing;
        self.busy_s += other.busy_s;
    }

    pub fn not_ok(&self) -> u64 {
        self.error + self.crashed + self.timeout
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    /// The shard, or `null` for a journal of the whole batch.
    pub shard: Option<u32>,
    pub journal: PathBuf,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub line: u64,
    pub shard: Option<u32>,
    pub status: Status,
    pub task: String,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub run_dir: Option<PathBuf>,
    pub jobs_file: Option<PathBuf>,
    pub shards: Vec<Row>,
    pub total: Counts,
    /// Every job has a record.
    pub complete: bool,
    /// Every job has a record, and it is ok.
    pub all_ok: bool,
    /// Jobs that are not ok, by line; at most the number asked for.
    pub failed: Vec<Failed>,
    /// The first jobs without a record, by line.
    pub missing_lines: Vec<u64>,
    /// Jobs recorded ok more than once: work done twice.
    pub ok_twice: u64,
    /// Records of jobs that are not in the jobs file (it was edited).
    pub stale_records: u64,
    /// Records in a shard's journal of jobs that another shard runs.
    pub stray_records: u64,
    /// Lines of the journals that are not records.
    pub torn_lines: u64,
}

impl Report {
    /// Shards with jobs that have no record (or, with `failed`, that are
    /// not ok either).
    pub fn incomplete_shards(&self, failed: bool) -> Vec<u32> {
        self.shards
            .iter()
            .filter(|r| r.counts.missing > 0 || (failed && r.counts.not_ok() > 0))
            .filter_map(|r| r.shard)
            .collect()
    }
}

pub fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    let sources = Sources::from_paths(&args.paths, args.jobs.as_deref(), args.task.as_deref())?;
    let ledger = Ledger::load(sources)?;
    let limit = if args.json { args.failed.max(1000) } else { args.failed };
    let report = report(&ledger, limit)?;
    if args.json {
        tell!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        tell!("{}", render(&report).trim_end_matches('\n'));
    }
    Ok(if report.all_ok { exit::OK } else { exit::JOBS_FAILED })
}

pub fn report(ledger: &Ledger, failed_limit: usize) -> anyhow::Result<Report> {
    let journals = &ledger.sources.journals;
    let mut rows: Vec<Counts> = vec![Counts::default(); journals.len()];
    let mut failed: Vec<(usize, Latest)> = Vec::new();
    let mut missing_lines = Vec::new();
    let mut ok_twice = 0;
    let mut matched = 0u64;
    let mut tally = |row: usize, latest: Option<&Latest>, rows: &mut Vec<Counts>| {
        rows[row].add(latest);
        if let Some(l) = latest {
            ok_twice += u64::from(l.oks > 1);
            if l.status != Status::Ok {
                failed.push((row, *l));
            }
        }
    };
    match &ledger.expected {
        Some(expected) => {
            for job in expected {
                // Jobs of shards whose journals were not given are not counted.
                let Some(row) = ledger.source_of(&job.id) else { continue };
                let latest = ledger.latest.get(&job.id);
                matched += u64::from(latest.is_some());
                if latest.is_none() && missing_lines.len() < 20 {
                    missing_lines.push(job.line);
                }
                tally(row, latest, &mut rows);
            }
        }
        None => {
            for latest in ledger.latest.values() {
                matched += 1;
                tally(latest.journal as usize, Some(latest), &mut rows);
            }
        }
    }
    let failed_count = failed.len();
    failed.sort_by_key(|(_, l)| l.line);
    failed.truncate(failed_limit);
    let failed =
        failed.iter().map(|(row, l)| failed_job(ledger, *row, l)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut total = Counts::default();
    rows.iter().for_each(|r| total.merge(r));
    debug_assert!(failed_count as u64 == total.not_ok());
    Ok(Report {
        run_dir: ledger.sources.run_dir.clone(),
        jobs_file: ledger.sources.jobs.as_ref().map(|(p, _)| p.clone()),
        shards: rows
            .into_iter()
            .zip(journals)
            .map(|(counts, s)| Row { shard: s.shard.map(|s| s.index), journal: s.path.clone(), counts })
            .collect(),
        complete: total.missing == 0,
        all_ok: total.ok == total.jobs,
        failed,
        missing_lines,
        ok_twice,
        stale_records: ledger.latest.len() as u64 - matched,
        stray_records: ledger.stray,
        torn_lines: ledger.torn,
        total,
    })
}

fn failed_job(ledger: &Ledger, row: usize, latest: &Latest) -> anyhow::Result<Failed> {
    #[derive(serde::Deserialize)]
    struct Why {
        task: String,
        args: Vec<String>,
        error: Option<String>,
    }
    let why: Why = serde_json::from_slice(&ledger.raw(latest)?)?;
    Ok(Failed {
        line: latest.line,
        shard: ledger.sources.journals[row].shard.map(|s| s.index),
        status: latest.status,
        task: why.task,
        args: why.args,
        error: why.error,
    })
}

/// At most this many shard rows are printed: a screenful.
const SHARD_ROWS: usize = 40;

pub fn render(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let what = match (&r.run_dir, &r.jobs_file) {
        (Some(dir), Some(jobs)) => format!("{}: {} jobs of {}", dir.display(), r.total.jobs, jobs.display()),
        (None, Some(jobs)) => format!("{} jobs of {}", r.total.jobs, jobs.display()),
        (_, None) => format!("{} jobs with records (no jobs file: missing jobs not counted)", r.total.jobs),
    };
    let _ = writeln!(out, "{what}, {} journal(s)", r.shards.len());
    let label = |row: &Row| match row.shard {
        Some(i) => i.to_string(),
        None => row.journal.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let width = r.shards.iter().map(|row| label(row).len()).max().unwrap_or(0).max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "shard", "jobs", "ok", "error", "crashed", "timeout", "missing", "busy s"
    );
    let line = |out: &mut String, name: &str, c: &Counts| {
        let _ = writeln!(
            out,
            "{name:<width$}  {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>9.3}",
            c.jobs, c.ok, c.error, c.crashed, c.timeout, c.missing, c.busy_s
        );
    };
    // Beyond a screenful, the rows that need a look: shards not all ok.
    let shown: Vec<&Row> = if r.shards.len() <= SHARD_ROWS {
        r.shards.iter().collect()
    } else {
        r.shards.iter().filter(|row| row.counts.ok < row.counts.jobs).take(SHARD_ROWS).collect()
    };
    for row in &shown {
        line(&mut out, &label(row), &row.counts);
    }
    if shown.len() < r.shards.len() {
        let hidden = r.shards.len() - shown.len();
        let _ = writeln!(
            out,
            "… and {hidden} more shard(s): beyond {SHARD_ROWS} shards only those not all ok are listed (--json lists every shard)"
        );
    }
    line(&mut out, "total", &r.total);
    if r.shards.len() > 1 {
        let mut by_busy: Vec<&Row> = r.shards.iter().collect();
        by_busy.sort_by(|a, b| b.counts.busy_s.total_cmp(&a.counts.busy_s));
        let slowest: Vec<String> = by_busy
            .iter()
            .take(3)
            .map(|row| format!("{} ({:.2} s)", label(row), row.counts.busy_s))
            .collect();
        let _ = writeln!(out, "slowest shards (job time): {}", slowest.join(", "));
    }
    render_failed(&mut out, r);
    render_missing(&mut out, r);
    for (n, what) in [
        (r.ok_twice, "job(s) recorded ok more than once"),
        (r.stale_records, "record(s) of jobs no longer in the jobs file, ignored"),
        (r.stray_records, "record(s) in a shard's journal that belong to another shard, ignored"),
        (r.torn_lines, "unreadable journal line(s), ignored"),
    ] {
        if n > 0 {
            let _ = writeln!(out, "note: {n} {what}");
        }
    }
    let verdict = if r.all_ok {
        "every job is ok"
    } else if r.complete {
        "every job has a record; some are not ok"
    } else {
        "incomplete: some jobs have no record yet"
    };
    let _ = writeln!(out, "{verdict}");
    out
}

/// The jobs that are not ok, one line each, up to the report's limit.
fn render_failed(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    if r.total.not_ok() > 0 {
        let _ = writeln!(out, "not ok ({} jobs):", r.total.not_ok());
        for f in &r.failed {
            let shard = f.shard.map(|s| format!(" shard {s}")).unwrap_or_default();
            let text = shell_words::join(std::iter::once(&f.task).chain(&f.args));
            let error = f.error.as_deref().and_then(|e| e.lines().next()).unwrap_or("");
            let _ = writeln!(
                out,
                "  line {}{shard}: {} `{}` {}",
                f.line,
                f.status.as_str(),
                text,
                clip(error, 120)
            );
        }
        if (r.failed.len() as u64) < r.total.not_ok() {
            let _ = writeln!(
                out,
                "  … and {} more (--failed N, or --json)",
                r.total.not_ok() - r.failed.len() as u64
            );
        }
    }
}

/// The jobs without a record, and which shards to resubmit.
fn render_missing(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    if r.total.missing > 0 {
        let lines: Vec<String> = r.missing_lines.iter().map(u64::to_string).collect();
        let more = if r.total.missing > lines.len() as u64 { ", …" } else { "" };
        let _ = writeln!(out, "missing ({} jobs): lines {}{more}", r.total.missing, lines.join(", "));
        let shards = r.incomplete_shards(false);
        if let (Some(dir), false) = (&r.run_dir, shards.is_empty()) {
            let list: Vec<String> = shards.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "incomplete shards: {} (when they have stopped: supervisor slurm resubmit {})",
                list.join(","),
                dir.display()
            );
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests;
