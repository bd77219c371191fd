//! The report's aggregation, as pure functions of the jobs read: lanes,
//! time buckets, the timeline's marks, failure groups and the slowest jobs.
//! No I/O, so that each is unit-tested with made-up jobs.

use procmap::Status;
use std::collections::HashMap;

/// One job placed on the report's timeline, in seconds since the earliest
/// start among the journals read. 32 bytes, so a million fit in 32 MB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub start: f64,
    /// Its line in the jobs file, for the bar's tooltip.
    pub line: u64,
    /// Its run time: `ms`, or for a crash (which has none) an estimate
    /// (see `load.rs`).
    pub secs: f32,
    /// Whether `secs` is that estimate.
    pub estimated: bool,
    /// Which worker ran it: an index into [`crate::load::Loaded::workers`].
    pub worker: u32,
    pub status: Status,
}

impl Bar {
    pub fn end(&self) -> f64 {
        self.start + f64::from(self.secs)
    }

    /// When its worker was surely busy until: its end, or its start when
    /// its run time is an estimate. A replacement worker starts after the
    /// start of the crash that killed the worker it replaces, not after an
    /// estimated end.
    pub fn known_end(&self) -> f64 {
        if self.estimated { self.start } else { self.end() }
    }
}

/// The lane of each worker, given each one's `(first start, last end)`:
/// a worker takes the lowest lane free since before it started, so that the
/// replacement of a dead worker (a new pid) takes its place, and a resumed
/// run's workers those of the run before. Returns the lanes and their count.
pub fn pack_lanes(spans: &[(f64, f64)]) -> (Vec<u32>, u32) {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].0.total_cmp(&spans[b].0).then(a.cmp(&b)));
    let mut free_at: Vec<f64> = Vec::new();
    let mut lanes = vec![0; spans.len()];
    for i in order {
        let (start, end) = spans[i];
        let lane = match free_at.iter().position(|&t| t <= start) {
            Some(lane) => lane,
            None => {
                free_at.push(f64::NEG_INFINITY);
                free_at.len() - 1
            }
        };
        free_at[lane] = end.max(start);
        lanes[i] = lane as u32;
    }
    (lanes, free_at.len() as u32)
}

/// How the run's span is cut into buckets for the charts and, beyond what
/// can be drawn one by one, for the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Buckets {
    pub count: usize,
    pub width: f64,
}

impl Buckets {
    /// `count` buckets over `[0, span]`; a span of 0 still has width.
    pub fn new(span: f64, count: usize) -> Buckets {
        let count = count.max(1);
        Buckets { count, width: (span / count as f64).max(1e-6) }
    }

    /// The bucket of time `t`, the last one for `t` at or past the end.
    pub fn of(&self, t: f64) -> usize {
        ((t / self.width).max(0.0) as usize).min(self.count - 1)
    }

    /// Adds to `into` how much of each bucket `[start, end)` covers, in
    /// bucket widths (1.0 for a whole bucket).
    pub fn spread(&self, start: f64, end: f64, into: &mut [f64]) {
        let (first, last) = (self.of(start), self.of(end));
        for (b, slot) in into.iter_mut().enumerate().take(last + 1).skip(first) {
            let (lo, hi) = (b as f64 * self.width, (b + 1) as f64 * self.width);
            let covered = end.min(hi) - start.max(lo);
            if covered > 0.0 {
                *slot += covered / self.width;
            }
        }
    }
}

/// Jobs finished per second in each bucket.
pub fn throughput(bars: &[Bar], buckets: Buckets) -> Vec<f64> {
    let mut counts = vec![0.0; buckets.count];
    for bar in bars {
        counts[buckets.of(bar.end())] += 1.0;
    }
    counts.iter().map(|c| c / buckets.width).collect()
}

/// The mean number of busy workers in each bucket.
pub fn busy_workers(bars: &[Bar], buckets: Buckets) -> Vec<f64> {
    let mut busy = vec![0.0; buckets.count];
    for bar in bars {
        buckets.spread(bar.start, bar.end(), &mut busy);
    }
    busy
}

/// Which status a cell of many jobs is drawn in: the worst one in it, so
/// that one crash among a thousand ok jobs stays visible.
pub fn severity(status: Status) -> u8 {
    match status {
        Status::Ok => 0,
        Status::Error => 1,
        Status::Crashed => 2,
        Status::Timeout => 3,
    }
}

/// One mark of a lane when jobs are too many to draw one by one: a bucket
/// of a lane, how busy it was (0 to 1) and its worst status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub lane: u32,
    pub bucket: usize,
    pub busy: f64,
    pub jobs: u32,
    pub status: Status,
}

/// The timeline as cells: for each lane, each bucket in which it ran
/// something. `lane_of` maps a bar's worker to its lane.
pub fn cells(bars: &[Bar], lane_of: &[u32], lanes: u32, buckets: Buckets) -> Vec<Cell> {
    let n = buckets.count;
    let mut busy = vec![0.0; lanes as usize * n];
    let mut jobs = vec![0u32; lanes as usize * n];
    let mut worst: Vec<Option<Status>> = vec![None; lanes as usize * n];
    for bar in bars {
        let lane = lane_of[bar.worker as usize] as usize;
        let row = &mut busy[lane * n..(lane + 1) * n];
        buckets.spread(bar.start, bar.end(), row);
        let (first, last) = (buckets.of(bar.start), buckets.of(bar.end()));
        jobs[lane * n + last] += 1;
        for slot in &mut worst[lane * n + first..=lane * n + last] {
            if slot.is_none_or(|s| severity(s) < severity(bar.status)) {
                *slot = Some(bar.status);
            }
        }
    }
    let mut out = Vec::new();
    for (i, status) in worst.into_iter().enumerate() {
        if let Some(status) = status {
            out.push(Cell {
                lane: (i / n) as u32,
                bucket: i % n,
                busy: busy[i].min(1.0),
                jobs: jobs[i],
                status,
            });
        }
    }
    out
}

/// What groups failures: their error text with every run of digits made
/// `#`, so that "ran 1012ms; worker 4242 was killed" and "ran 1009ms;
/// worker 4250 was killed" are one group.
pub fn error_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len().min(200));
    let mut in_digits = false;
    for c in text.chars().take(200) {
        if c.is_ascii_digit() {
            if !in_digits {
                key.push('#');
            }
            in_digits = true;
        } else {
            key.push(c);
            in_digits = false;
        }
    }
    key
}

/// Failures of one kind: how many, and their lines (the first few).
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup {
    pub status: Status,
    /// The error text of its first failure.
    pub example: String,
    pub count: u64,
    pub lines: Vec<(String, u64)>,
}

/// Failures grouped by [`error_key`] and status, as they are read.
#[derive(Debug, Default)]
pub struct Failures {
    groups: HashMap<(Status, String), FailureGroup>,
}

/// Lines kept per failure group; the count is always whole.
pub const LINES_PER_GROUP: usize = 50;
/// Groups kept; failures of other kinds beyond go to one group of their own.
pub const MAX_GROUPS: usize = 1000;

impl Failures {
    /// Adds a failure of line `line` of journal `source`.
    pub fn add(&mut self, status: Status, error: &str, source: &str, line: u64) {
        let mut key = (status, error_key(error));
        if self.groups.len() >= MAX_GROUPS && !self.groups.contains_key(&key) {
            key = (status, "(other errors)".to_owned());
        }
        let group = self.groups.entry(key).or_insert_with(|| FailureGroup {
            status,
            example: error.to_owned(),
            count: 0,
            lines: Vec::new(),
        });
        group.count += 1;
        if group.lines.len() < LINES_PER_GROUP {
            group.lines.push((source.to_owned(), line));
        }
    }

    /// The groups, biggest first.
    pub fn into_sorted(self) -> Vec<FailureGroup> {
        let mut groups: Vec<FailureGroup> = self.groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.example.cmp(&b.example)));
        groups
    }
}

/// A job among the slowest: what it was and how long it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub ms: f64,
    pub what: String,
    pub source: String,
    pub line: u64,
    pub status: Status,
}

/// The `keep` slowest jobs seen (a few: each kept one is found by a scan).
#[derive(Debug)]
pub struct Slowest {
    keep: usize,
    items: Vec<Slow>,
}

impl Slowest {
    pub fn new(keep: usize) -> Slowest {
        Slowest { keep, items: Vec::with_capacity(keep) }
    }

    /// The fastest job kept, when as many as wanted are.
    fn least(&self) -> Option<(usize, f64)> {
        if self.items.len() < self.keep {
            return None;
        }
        self.items.iter().enumerate().map(|(i, s)| (i, s.ms)).min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Whether a job of `ms` would be kept: the caller builds its [`Slow`]
    /// only then.
    pub fn wants(&self, ms: f64) -> bool {
        self.keep > 0 && self.least().is_none_or(|(_, least)| ms > least)
    }

    pub fn add(&mut self, slow: Slow) {
        if !self.wants(slow.ms) {
            return;
        }
        match self.least() {
            Some((i, _)) => self.items[i] = slow,
            None => self.items.push(slow),
        }
    }

    /// The jobs kept, slowest first.
    pub fn into_sorted(mut self) -> Vec<Slow> {
        self.items.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        self.items
    }
}

#[cfg(test)]
mod tests;
