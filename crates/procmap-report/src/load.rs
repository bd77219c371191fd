//! Reading journals into what the report draws: one [`Bar`] per job that
//! ran, and as they stream by, the counts, failure groups and slowest jobs.
//! Lines are read with procmap-batch's one journal loop
//! (`journal::for_each_line`, `parse_line`), into a borrowed view of the
//! few fields a report needs: a million records never exist as
//! `JobRecord`s at once.

use super::error::ReportError;
use super::model::{Bar, Failures, Slow, Slowest};
use procmap::Status;
use procmap_batch::journal::{Header, Line, for_each_line, parse_line};
use procmap_batch::ledger::Source;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io;

/// How many of the slowest jobs the report lists.
pub const SLOWEST: usize = 20;

/// The fields of a record the report reads.
#[derive(Deserialize)]
struct View<'a> {
    line: u64,
    status: Status,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
    #[serde(default)]
    worker: Option<u32>,
    #[serde(default)]
    ms: Option<f64>,
    #[serde(default)]
    start: Option<f64>,
}

/// What a slow job was: read again only for the few that are listed.
#[derive(Deserialize)]
struct What {
    task: String,
    args: Vec<String>,
}

/// One journal read: a group of lanes in the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The shard (`2/4`) or the journal's file name.
    pub label: String,
    /// The hosts its headers name, in order, each once.
    pub hosts: Vec<String>,
}

/// A worker as the report knows it: its id in one segment of one journal
/// (a pid, a thread number), since pids are reused across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Worker {
    pub group: u32,
    pub segment: u32,
    pub id: u32,
}

/// Everything read from the journals.
#[derive(Debug)]
pub struct Loaded {
    pub groups: Vec<Group>,
    pub workers: Vec<Worker>,
    /// Starts in seconds since the earliest start (after [`load`]).
    pub bars: Vec<Bar>,
    /// Records by status, in [`Status::ALL`]'s order.
    pub counts: [u64; 4],
    pub records: u64,
    /// Records that ran but carry no `start` (written before it existed):
    /// counted, not drawn.
    pub undrawn: u64,
    /// Runs (headers) read.
    pub segments: u32,
    /// Lines that are not records: a torn tail, foreign text.
    pub unreadable: u64,
    /// When the earliest drawn job started, in seconds since the epoch
    /// (0 when the journals have no headers).
    pub origin_unix: f64,
    pub writers: Vec<String>,
    pub failures: Failures,
    pub slowest: Slowest,
}

/// Reads every journal of `sources`, in order; a shard's journal that does
/// not exist yet has no records.
pub fn load(sources: &[Source]) -> Result<Loaded, ReportError> {
    let mut loaded = Loaded {
        groups: Vec::new(),
        workers: Vec::new(),
        bars: Vec::new(),
        counts: [0; 4],
        records: 0,
        undrawn: 0,
        segments: 0,
        unreadable: 0,
        origin_unix: 0.0,
        writers: Vec::new(),
        failures: Failures::default(),
        slowest: Slowest::new(SLOWEST),
    };
    let mut workers = HashMap::new();
    for (index, source) in sources.iter().enumerate() {
        let label = match source.shard {
            Some(shard) => format!("shard {shard}"),
            None => source
                .path
                .file_name()
                .map_or_else(|| source.path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        };
        loaded.groups.push(Group { label, hosts: Vec::new() });
        let file = match File::open(&source.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound && source.shard.is_some() => continue,
            Err(e) => return Err(ReportError::Open { path: source.path.clone(), source: e }),
        };
        let mut reader =
            Reader { loaded: &mut loaded, workers: &mut workers, group: index as u32, segment: None };
        for_each_line(file, |raw| reader.line(raw.text)).map_err(|e| match e {
            Failed::Io(e) => ReportError::Read { path: source.path.clone(), source: e },
            Failed::Format(e) => ReportError::Format(e),
        })?;
    }
    let origin = loaded.bars.iter().map(|b| b.start).fold(f64::INFINITY, f64::min);
    if origin.is_finite() {
        for bar in &mut loaded.bars {
            bar.start -= origin;
        }
        loaded.origin_unix = origin;
    }
    Ok(loaded)
}

/// The segment being read: where its records' `start`s count from.
struct Segment {
    index: u32,
    started_unix: f64,
    /// The latest end of its jobs read so far, in seconds since the epoch:
    /// about when a crash (or a timeout written before timeouts had `ms`),
    /// which has no run time, was recorded.
    latest_end: f64,
}

/// Why reading one journal stopped, before the journal is named.
enum Failed {
    Io(io::Error),
    Format(procmap_batch::journal::NewerFormat),
}

impl From<io::Error> for Failed {
    fn from(e: io::Error) -> Self {
        Failed::Io(e)
    }
}

struct Reader<'a> {
    loaded: &'a mut Loaded,
    workers: &'a mut HashMap<Worker, u32>,
    group: u32,
    segment: Option<Segment>,
}

impl Reader<'_> {
    fn line(&mut self, text: &[u8]) -> Result<(), Failed> {
        match parse_line::<View>(text) {
            Err(newer) => Err(Failed::Format(newer)),
            Ok(Line::Unreadable) => {
                self.loaded.unreadable += 1;
                Ok(())
            }
            Ok(Line::Auto) => Ok(()),
            Ok(Line::Header) => {
                self.header(text);
                Ok(())
            }
            Ok(Line::Record(view)) => {
                self.record(view, text);
                Ok(())
            }
        }
    }

    fn header(&mut self, text: &[u8]) {
        let loaded = &mut *self.loaded;
        loaded.segments += 1;
        let index = self.segment.as_ref().map_or(1, |s| s.index + 1);
        // A header of format 1's successors always parses as a Header; one
        // that does not still starts a segment, without a clock.
        let header = serde_json::from_slice::<Header>(text).ok();
        let started_unix = header.as_ref().map_or(0.0, |h| h.started_unix);
        if let Some(h) = header {
            let group = &mut loaded.groups[self.group as usize];
            if !h.host.is_empty() && !group.hosts.contains(&h.host) {
                group.hosts.push(h.host);
            }
            if !loaded.writers.contains(&h.writer) {
                loaded.writers.push(h.writer);
            }
        }
        self.segment = Some(Segment { index, started_unix, latest_end: f64::NEG_INFINITY });
    }

    fn record(&mut self, view: View<'_>, text: &[u8]) {
        let loaded = &mut *self.loaded;
        loaded.records += 1;
        loaded.counts[view.status as usize] += 1;
        let source = &loaded.groups[self.group as usize].label;
        if view.status != Status::Ok {
            let error = view.error.as_deref().unwrap_or("(no error text)");
            loaded.failures.add(view.status, error, source, view.line);
        }
        if let Some(ms) = view.ms.filter(|ms| ms.is_finite())
            && loaded.slowest.wants(ms)
        {
            let what = serde_json::from_slice::<What>(text)
                .map(|w| std::iter::once(w.task).chain(w.args).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let line = view.line;
            loaded.slowest.add(Slow { ms, what, source: source.clone(), line, status: view.status });
        }
        let Some(id) = view.worker else { return };
        let Some(start) = view.start.filter(|s| s.is_finite()) else {
            loaded.undrawn += 1;
            return;
        };
        let segment = self.segment.get_or_insert(Segment {
            index: 0,
            started_unix: 0.0,
            latest_end: f64::NEG_INFINITY,
        });
        let start = segment.started_unix + start / 1e3;
        let ms = view.ms.filter(|ms| ms.is_finite());
        let secs = match ms {
            Some(ms) => ms / 1e3,
            None => (segment.latest_end - start).max(0.0),
        };
        segment.latest_end = segment.latest_end.max(start + secs);
        let key = Worker { group: self.group, segment: segment.index, id };
        let worker = *self.workers.entry(key).or_insert_with(|| {
            loaded.workers.push(key);
            (loaded.workers.len() - 1) as u32
        });
        loaded.bars.push(Bar {
            start,
            line: view.line,
            secs: secs as f32,
            estimated: ms.is_none(),
            worker,
            status: view.status,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &tempfile::TempDir, name: &str, text: &str) -> Source {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Source { path, shard: procmap_batch::shard::Shard::from_journal_name(name) }
    }

    #[test]
    fn segments_are_placed_by_their_headers_and_old_records_are_counted_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = source(
            &dir,
            "a.jsonl",
            concat!(
                "{\"line\":9,\"task\":\"cube\",\"args\":[\"1\"],\"status\":\"ok\",\"attempts\":1,\"worker\":7,\"ms\":1}\n",
                "{\"journal\":2,\"writer\":\"supervisor 0.1.0\",\"started_unix\":1000.5,\"host\":\"n1\",\"pid\":1}\n",
                "{\"line\":1,\"task\":\"cube\",\"args\":[\"1\"],\"status\":\"ok\",\"attempts\":1,\"worker\":7,\"ms\":500,\"start\":0}\n",
                "{\"line\":2,\"task\":\"fault\",\"args\":[\"hang\"],\"status\":\"timeout\",\"error\":\"timed out\",\"attempts\":1,\"worker\":8,\"start\":100}\n",
                "{\"journal\":2,\"writer\":\"supervisor 0.1.0\",\"started_unix\":1002.5,\"host\":\"n1\",\"pid\":2}\n",
                "{\"line\":3,\"task\":\"cube\",\"args\":[\"3\"],\"status\":\"error\",\"error\":\"bad\",\"attempts\":1,\"worker\":7,\"ms\":2000,\"start\":1000}\n",
                "{\"line\":4,\"task\":\"cube\",\"args\":[\"4\"],\"status\":\"error\",\"error\":\"never ran\",\"attempts\":0}\n",
                "{\"line\":5,\"ta",
            ),
        );
        let missing = Source { path: dir.path().join("shard-0001-of-0002.jsonl"), shard: None };
        let loaded = load(std::slice::from_ref(&a)).unwrap();
        assert_eq!((loaded.records, loaded.undrawn, loaded.segments, loaded.unreadable), (5, 1, 2, 1));
        assert_eq!(loaded.counts, [2, 2, 0, 1]);
        assert_eq!(loaded.origin_unix, 1000.5);
        let starts: Vec<(f64, f32)> =
            loaded.bars.iter().map(|b| ((b.start * 1e6).round() / 1e6, b.secs)).collect();
        // The timeout has no run time (as before timeouts had one): it lasts until the latest end before
        // it (0.5 s), from 0.1 s.
        assert_eq!(starts, [(0.0, 0.5), (0.1, 0.4), (3.0, 2.0)]);
        // Worker 7 of the first run and of the second are two workers.
        assert_eq!(loaded.workers.len(), 3);
        assert_eq!(loaded.groups, [Group { label: "a.jsonl".into(), hosts: vec!["n1".into()] }]);
        assert_eq!(loaded.failures.into_sorted().len(), 3);
        let slowest = loaded.slowest.into_sorted();
        assert_eq!((slowest[0].ms, slowest[0].what.as_str()), (2000.0, "cube 3"));
        assert!(matches!(load(&[missing]), Err(ReportError::Open { .. })));
    }

    #[test]
    fn a_shard_not_run_yet_is_an_empty_group_and_a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shard = Source {
            path: dir.path().join("shard-0000-of-0002.jsonl"),
            shard: procmap_batch::shard::Shard::from_journal_name("shard-0000-of-0002.jsonl"),
        };
        let loaded = load(&[shard]).unwrap();
        assert_eq!((loaded.records, loaded.groups[0].label.as_str()), (0, "shard 0/2"));
        let newer = source(&dir, "n.jsonl", "{\"journal\":99,\"writer\":\"x\"}\n");
        assert!(matches!(load(&[newer]), Err(ReportError::Format(_))));
    }
}
