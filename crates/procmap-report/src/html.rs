//! The report's page: a header, the timeline (one lane per worker, grouped
//! by journal), the charts, the counts, the slowest jobs and the failures.

use super::load::Group;
use super::load::Loaded;
use super::model::{self, Bar, Buckets, FailureGroup, Slow};
use super::svg::{Frame, duration_label, esc, line_chart, time_axis, utc_label};
use procmap::Status;
use std::fmt::Write as _;

/// Jobs drawn one bar each; beyond, lanes are drawn as time buckets.
pub const MAX_BARS: usize = 10_000;
/// Failed jobs drawn one bar each over the buckets, so none hides.
pub const MAX_FAILED_BARS: usize = 2_000;
/// Buckets of the charts.
const CHART_BUCKETS: usize = 300;
/// Cells the bucketed timeline may have in all (lanes × buckets).
const MAX_CELLS: usize = 60_000;

const LEFT: f64 = 160.0;
const PLOT: f64 = 1040.0;
const GROUP_ROW: f64 = 18.0;

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:20px;color:#222}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.ok{fill:#43a047;background:#43a047}.error{fill:#fb8c00;background:#fb8c00}\
.crashed{fill:#e53935;background:#e53935}.timeout{fill:#8e24aa;background:#8e24aa}\
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
.lane-bg{fill:#f4f4f4}.group-label{font-weight:600;font-size:12px}.lane-label,.tick{font-size:11px;fill:#555}\
.grid{stroke:#ddd}.area{fill:#90caf9;stroke:#1e88e5}\
details{margin:4px 0}summary{cursor:pointer}pre{white-space:pre-wrap;margin:4px 0 4px 20px;color:#555}";

/// A page, and what it says about itself for the command's message.
pub struct Page {
    pub text: String,
    pub records: u64,
    pub drawn: usize,
    pub undrawn: u64,
    pub bucketed: bool,
}

pub fn page(loaded: Loaded) -> Page {
    let span = loaded.bars.iter().map(Bar::end).fold(0.0, f64::max);
    let frame = Frame { left: LEFT, width: PLOT, span: span.max(1e-3) };
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>procmap report</title><style>{STYLE}</style></head><body>"
    );
    header(&mut out, &loaded, span);
    let bucketed = loaded.bars.len() > MAX_BARS;
    timeline(&mut out, &loaded, frame, bucketed);
    let buckets = Buckets::new(frame.span, CHART_BUCKETS);
    line_chart(
        &mut out,
        "throughput",
        "Throughput",
        "jobs/s",
        &model::throughput(&loaded.bars, buckets),
        frame,
    );
    line_chart(&mut out, "busy", "Busy workers", "", &model::busy_workers(&loaded.bars, buckets), frame);
    counts(&mut out, &loaded);
    let (records, drawn, undrawn) = (loaded.records, loaded.bars.len(), loaded.undrawn);
    slowest(&mut out, loaded.slowest.into_sorted());
    failures(&mut out, loaded.failures.into_sorted());
    out.push_str("</body></html>\n");
    Page { text: out, records, drawn, undrawn, bucketed }
}

fn header(out: &mut String, loaded: &Loaded, span: f64) {
    let _ = write!(
        out,
        "<h1>procmap report</h1><p>{} records from {} journal(s), {} run(s); {} drawn over {}",
        loaded.records,
        loaded.groups.len(),
        loaded.segments,
        loaded.bars.len(),
        duration_label(span)
    );
    if loaded.origin_unix > 0.0 {
        let _ = write!(out, ", from {}", utc_label(loaded.origin_unix));
    }
    out.push_str(".</p>");
    if loaded.undrawn > 0 {
        let _ = write!(
            out,
            "<p>{} records carry no <code>start</code> (written before it existed): counted, not drawn.</p>",
            loaded.undrawn
        );
    }
    if !loaded.writers.is_empty() {
        let _ = write!(out, "<p>Written by {}.</p>", esc(&loaded.writers.join(", ")));
    }
}

/// One lane per worker, a worker's replacement in its lane (see
/// [`model::pack_lanes`]), lanes grouped by journal.
fn timeline(out: &mut String, loaded: &Loaded, frame: Frame, bucketed: bool) {
    // Each worker's span, then lanes within each group.
    let mut spans = vec![(f64::INFINITY, f64::NEG_INFINITY); loaded.workers.len()];
    for bar in &loaded.bars {
        let s = &mut spans[bar.worker as usize];
        *s = (s.0.min(bar.start), s.1.max(bar.known_end()));
    }
    let mut lane_of = vec![0u32; loaded.workers.len()];
    let mut group_lanes = Vec::with_capacity(loaded.groups.len());
    let mut total = 0u32;
    // Workers by group, in one pass: a run directory may have many shards.
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); loaded.groups.len()];
    for (w, worker) in loaded.workers.iter().enumerate() {
        by_group[worker.group as usize].push(w);
    }
    for members in by_group {
        let (lanes, count) = model::pack_lanes(&members.iter().map(|&w| spans[w]).collect::<Vec<_>>());
        for (&w, lane) in members.iter().zip(lanes) {
            lane_of[w] = total + lane;
        }
        group_lanes.push((total, count));
        total += count;
    }
    let lane_h = (640.0 / f64::from(total.max(1))).clamp(2.0, 14.0);
    let height = loaded.groups.len() as f64 * GROUP_ROW + f64::from(total) * lane_h + 30.0;
    let width = LEFT + PLOT + 10.0;
    out.push_str("<h2>Timeline</h2><p>");
    for status in Status::ALL {
        let _ = write!(out, "<span class=\"swatch {0}\"></span>{0}", status.as_str());
    }
    out.push_str(
        "<br>One lane per worker; a worker that died is replaced in its lane. A crash has no run time in its \
         record: its bar ends where the last result before it in the journal ended, an estimate.",
    );
    if bucketed {
        let _ = write!(
            out,
            "<br>{} jobs: each lane is drawn in time buckets, in the worst status each holds, shaded by how busy the worker was; failures are drawn one by one over them.",
            loaded.bars.len()
        );
    }
    let _ = write!(
        out,
        "</p><svg id=\"timeline\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // Where each lane's row is.
    let mut lane_y = vec![0.0; total as usize];
    let mut y = 0.0;
    for (group, &(first, count)) in group_lanes.iter().enumerate() {
        lane_y_group(out, &loaded.groups[group], &mut y);
        for lane in first..first + count {
            lane_y[lane as usize] = y;
            y += lane_h;
        }
    }
    time_axis(out, frame, y + 4.0, 0.0);
    let marks = marks(loaded, &lane_of, total, frame, bucketed);
    for (lane, marks) in marks.into_iter().enumerate() {
        let (group, first) = group_lanes
            .iter()
            .enumerate()
            .rfind(|(_, (first, _))| *first <= lane as u32)
            .map_or((0, 0), |(g, (f, _))| (g, *f));
        let y = lane_y[lane];
        let _ = write!(
            out,
            "<g class=\"lane\" data-group=\"{group}\" data-lane=\"{}\"><rect class=\"lane-bg\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{PLOT}\" height=\"{:.1}\"/>",
            lane as u32 - first,
            (lane_h - 1.0).max(1.0)
        );
        if lane_h >= 9.0 {
            let _ = write!(
                out,
                "<text class=\"lane-label\" x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">worker {}</text>",
                LEFT - 6.0,
                y + lane_h - 3.0,
                lane as u32 - first + 1
            );
        }
        for mark in marks {
            let _ = write!(
                out,
                "<rect class=\"{} {}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\"{}>{}</rect>",
                mark.kind,
                mark.status.as_str(),
                mark.x,
                mark.width,
                (lane_h - 1.0).max(1.0),
                mark.opacity.map(|o| format!(" opacity=\"{o:.2}\"")).unwrap_or_default(),
                mark.title
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
}

fn lane_y_group(out: &mut String, group: &Group, y: &mut f64) {
    let hosts =
        if group.hosts.is_empty() { String::new() } else { format!(" on {}", group.hosts.join(", ")) };
    let _ = write!(
        out,
        "<text class=\"group-label\" x=\"4\" y=\"{:.1}\">{}{}</text>",
        *y + 13.0,
        esc(&group.label),
        esc(&hosts)
    );
    *y += GROUP_ROW;
}

/// One rectangle of a lane.
struct Mark {
    kind: &'static str,
    status: Status,
    x: f64,
    width: f64,
    opacity: Option<f64>,
    title: String,
}

/// The marks of each lane: a bar per job, or cells and the failed jobs'
/// bars over them.
fn marks(loaded: &Loaded, lane_of: &[u32], lanes: u32, frame: Frame, bucketed: bool) -> Vec<Vec<Mark>> {
    let mut out: Vec<Vec<Mark>> = (0..lanes).map(|_| Vec::new()).collect();
    let bar_mark = |bar: &Bar| Mark {
        kind: "b",
        status: bar.status,
        x: frame.x(bar.start),
        // A failure stays visible however short it was.
        width: (f64::from(bar.secs) / frame.span * frame.width).max(if bar.status == Status::Ok {
            0.5
        } else {
            2.0
        }),
        opacity: None,
        title: format!(
            "<title>line {}: {} {}</title>",
            bar.line,
            bar.status.as_str(),
            duration_label(f64::from(bar.secs))
        ),
    };
    if !bucketed {
        for bar in &loaded.bars {
            out[lane_of[bar.worker as usize] as usize].push(bar_mark(bar));
        }
        return out;
    }
    let count = (MAX_CELLS / lanes.max(1) as usize).clamp(20, 400);
    let buckets = Buckets::new(frame.span, count);
    for cell in model::cells(&loaded.bars, lane_of, lanes, buckets) {
        let x = frame.x(cell.bucket as f64 * buckets.width);
        out[cell.lane as usize].push(Mark {
            kind: "c",
            status: cell.status,
            x,
            width: frame.x((cell.bucket + 1) as f64 * buckets.width) - x,
            opacity: Some(0.25 + 0.75 * cell.busy),
            title: String::new(),
        });
    }
    for bar in loaded.bars.iter().filter(|b| b.status != Status::Ok).take(MAX_FAILED_BARS) {
        out[lane_of[bar.worker as usize] as usize].push(bar_mark(bar));
    }
    out
}

fn counts(out: &mut String, loaded: &Loaded) {
    out.push_str("<h2>Jobs by status</h2><table id=\"counts\"><tr><th>status</th><th>records</th></tr>");
    for status in Status::ALL {
        let _ = write!(
            out,
            "<tr class=\"count\" data-status=\"{0}\"><td><span class=\"swatch {0}\"></span>{0}</td><td class=\"n\">{1}</td></tr>",
            status.as_str(),
            loaded.counts[status as usize]
        );
    }
    let _ = write!(out, "<tr><td>all</td><td class=\"n\">{}</td></tr></table>", loaded.records);
}

fn slowest(out: &mut String, slow: Vec<Slow>) {
    out.push_str("<h2>Slowest jobs</h2><table id=\"slowest\"><tr><th>ms</th><th>status</th><th>journal</th><th>line</th><th>job</th></tr>");
    for s in slow {
        let _ = write!(
            out,
            "<tr><td class=\"n\">{:.1}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
            s.ms,
            s.status.as_str(),
            esc(&s.source),
            s.line,
            esc(&s.what)
        );
    }
    out.push_str("</table>");
}

fn failures(out: &mut String, groups: Vec<FailureGroup>) {
    let _ = write!(out, "<h2>Failures</h2><div id=\"failures\">");
    if groups.is_empty() {
        out.push_str("<p>None: every job is ok.</p>");
    }
    for g in groups {
        let lines: Vec<String> =
            g.lines.iter().map(|(source, line)| format!("{}:{line}", esc(source))).collect();
        let more = if g.count > g.lines.len() as u64 {
            format!(" and {} more", g.count - g.lines.len() as u64)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<details class=\"failure-group\" data-status=\"{0}\"><summary><span class=\"swatch {0}\"></span>{1} × {0}: {2}</summary><pre>{3}</pre><p>Lines: {4}{5}</p></details>",
            g.status.as_str(),
            g.count,
            esc(g.example.lines().next().unwrap_or("")),
            esc(&g.example),
            lines.join(", "),
            more
        );
    }
    out.push_str("</div>");
}
