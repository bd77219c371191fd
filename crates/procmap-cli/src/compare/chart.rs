//! `report.svg`: throughput per configuration, and speedup against the
//! number of workers with the ideal for comparison.
//!
//! plotters draws text as SVG `<text>` elements and, without its `ttf`
//! feature, only estimates text widths, so label areas below are sized from
//! the label lengths with some slack rather than measured.

use super::plan::{Config, ModeChoice};
use super::results::{Results, Row};
use super::table::rate;
use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use procmap::Chunking;

const WIDTH: u32 = 1000;
const BAR_HEIGHT: u32 = 26;
const SPEEDUP_HEIGHT: u32 = 520;
const TITLE_HEIGHT: u32 = 50;
const FONT: &str = "sans-serif";

/// Series colours, distinguishable on white and for most colour-blind
/// readers (Tableau 10, less its grey, which is serial's).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const SERIAL_COLOR: RGBColor = RGBColor(110, 110, 110);

/// The SVG document. `subject` names what was run, for the title.
pub fn render(results: &Results, subject: &str) -> anyhow::Result<String> {
    let bars_height = 110 + BAR_HEIGHT * results.rows.len() as u32;
    // Without a serial run the speedup panel is only a note.
    let speedup_height = if results.baseline().is_some() { SPEEDUP_HEIGHT } else { 60 };
    let height = TITLE_HEIGHT + bars_height + speedup_height;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root, results, subject, bars_height).map_err(|e| anyhow!("cannot draw the chart: {e}"))?;
        root.present().map_err(|e| anyhow!("cannot draw the chart: {e}"))?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(root: &Area, results: &Results, subject: &str, bars_height: u32) -> DrawResult {
    root.fill(&WHITE)?;
    let runs = match results.repeat {
        1 => String::new(),
        n => format!(", best of {n} runs"),
    };
    let title = format!("procmap compare: {} jobs from {subject}{runs}", results.jobs);
    let body = root.titled(&title, (FONT, 26).into_font().style(FontStyle::Bold))?;
    let (top, bottom) = body.split_vertically(bars_height);
    let series = Series::of(results);
    draw_throughput(&top, results, &series)?;
    draw_speedup(&bottom, results, &series)?;
    Ok(())
}

/// The lines of the speedup panel: one per mode and chunksize (and thread
/// count for hybrid), with the colour their bars share.
struct Series {
    keys: Vec<(ModeChoice, u32, Option<Chunking>)>,
}

impl Series {
    fn of(results: &Results) -> Series {
        let mut keys = Vec::new();
        for row in &results.rows {
            let key = Self::key(&row.config);
            if row.config.mode != ModeChoice::Serial && !keys.contains(&key) {
                keys.push(key);
            }
        }
        Series { keys }
    }

    fn key(c: &Config) -> (ModeChoice, u32, Option<Chunking>) {
        (c.mode, c.threads, c.chunksize)
    }

    /// The colour of series number `i`.
    fn color_at(i: usize) -> RGBColor {
        PALETTE[i % PALETTE.len()]
    }

    /// The colour of a configuration's series; serial has none of its own.
    fn color(&self, c: &Config) -> RGBColor {
        self.keys.iter().position(|k| *k == Self::key(c)).map_or(SERIAL_COLOR, Self::color_at)
    }

    fn label(key: &(ModeChoice, u32, Option<Chunking>)) -> String {
        let (mode, threads, chunksize) = key;
        let chunk = chunksize.map_or_else(|| "-".to_owned(), |c| c.to_string());
        match mode {
            ModeChoice::Hybrid => format!("hybrid ({threads} threads/proc), chunksize {chunk}"),
            _ => format!("{}, chunksize {chunk}", mode.name()),
        }
    }
}

/// A configuration's label on the throughput panel.
fn bar_label(c: &Config) -> String {
    let chunk = c.chunksize_text();
    match c.mode {
        ModeChoice::Serial => "serial".to_owned(),
        ModeChoice::Hybrid => format!("hybrid {}×{} procs×threads, chunk {chunk}", c.procs, c.threads),
        mode => format!("{} {} {}, chunk {chunk}", mode.name(), c.procs, unit(mode, c.procs)),
    }
}

fn unit(mode: ModeChoice, n: u32) -> &'static str {
    match (mode, n) {
        (ModeChoice::Thread, 1) => "thread",
        (ModeChoice::Thread, _) => "threads",
        (_, 1) => "proc",
        _ => "procs",
    }
}

/// Panel 1: one horizontal bar per configuration, in table order from the
/// top, with its jobs/s at the end of the bar.
///
/// Row i occupies y in [n-1-i, n-i] (plotters' y grows upwards). The row
/// labels are drawn as text beside the axis rather than as tick labels: a
/// discrete axis cannot hold a single row, and one label per row is all
/// that is wanted.
fn draw_throughput(area: &Area, results: &Results, series: &Series) -> DrawResult {
    let n = results.rows.len();
    let labels: Vec<String> = results.rows.iter().map(|r| bar_label(&r.config)).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let max_rate = results.rows.iter().map(Row::jobs_per_sec).fold(0.0, f64::max).max(1e-9);
    // Room after the longest bar for its value label.
    let x_max = max_rate * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput per configuration (higher is better)", (FONT, 20))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(20 + longest * 8)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_max_light_lines(2)
        .x_desc("jobs per second")
        .x_label_formatter(&|v| if x_max >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") })
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let top = |i: usize| (n - i) as f64;
    chart.draw_series(results.rows.iter().enumerate().map(|(i, row)| {
        let corners = [(0.0, top(i) - 0.15), (row.jobs_per_sec(), top(i) - 0.85)];
        Rectangle::new(corners, series.color(&row.config).filled())
    }))?;
    let label_style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    chart.draw_series(labels.iter().enumerate().map(|(i, label)| {
        EmptyElement::at((0.0, top(i) - 0.5)) + Text::new(label.clone(), (-8, 0), label_style.clone())
    }))?;
    let value_style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(results.rows.iter().enumerate().map(|(i, row)| {
        let text = format!("{}/s", rate(row.jobs_per_sec()));
        EmptyElement::at((row.jobs_per_sec(), top(i) - 0.5)) + Text::new(text, (5, 0), value_style.clone())
    }))?;
    Ok(())
}

/// Panel 2: speedup against workers, a line per series, serial as the
/// point (1, 1), and the ideal speedup (= workers) dashed.
fn draw_speedup(area: &Area, results: &Results, series: &Series) -> DrawResult {
    let caption = "Speedup vs serial by number of workers (dashed: ideal, speedup = workers)";
    if results.baseline().is_none() {
        area.draw(&Text::new(
            "No serial run, so no speedup to plot: add serial to --modes.",
            (80, 20),
            (FONT, 18).into_font(),
        ))?;
        return Ok(());
    }
    let max_workers = results.rows.iter().map(|r| r.config.workers()).max().unwrap_or(1);
    let max_speedup = results.rows.iter().filter_map(|r| results.speedup(r)).fold(0.0, f64::max);
    // The whole ideal line stays in view: the distance to it is the point.
    let y_max = max_speedup.max(f64::from(max_workers)) * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0u32..max_workers + 1, 0.0..y_max)?;
    chart
        .configure_mesh()
        .y_max_light_lines(2)
        .x_desc("workers (procs × threads)")
        .y_desc("speedup vs serial")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;

    let ideal = [(1, 1.0), (max_workers, f64::from(max_workers))];
    chart
        .draw_series(DashedLineSeries::new(ideal, 8, 6, BLACK.stroke_width(2)))?
        .label("ideal (speedup = workers)")
        .legend(|(x, y)| {
            let dash =
                |from: i32| PathElement::new([(x + from, y), (x + from + 7, y)], BLACK.stroke_width(2));
            EmptyElement::at((0, 0)) + dash(-8) + dash(4)
        });

    for (i, key) in series.keys.iter().enumerate() {
        let mut points: Vec<(u32, f64)> = results
            .rows
            .iter()
            .filter(|r| Series::key(&r.config) == *key)
            .filter_map(|r| Some((r.config.workers(), results.speedup(r)?)))
            .collect();
        points.sort_by_key(|p| p.0);
        let (mode, color) = (key.0, Series::color_at(i));
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
            .label(Series::label(key))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(-8, 0), (11, 0)], color.stroke_width(2))
                    + marker(mode, color)
            });
        chart.draw_series(points.iter().map(|&p| EmptyElement::at(p) + marker(mode, color)))?;
    }
    if let Some(serial) = results.rows.iter().find(|r| r.config.mode == ModeChoice::Serial) {
        let speedup = results.speedup(serial).unwrap_or(1.0);
        chart
            .draw_series([EmptyElement::at((1, speedup)) + marker(ModeChoice::Serial, SERIAL_COLOR)])?
            .label("serial (the baseline)")
            .legend(|(x, y)| EmptyElement::at((x + 2, y)) + marker(ModeChoice::Serial, SERIAL_COLOR));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(15)
        .legend_area_size(30)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

/// A point's marker: its shape tells the mode, so that series that lie on
/// top of each other (thread and process often do) stay distinguishable.
fn marker<DB: DrawingBackend>(mode: ModeChoice, color: RGBColor) -> DynElement<'static, DB, (i32, i32)> {
    let style = color.filled();
    match mode {
        ModeChoice::Thread => Circle::new((0, 0), 4, style).into_dyn(),
        ModeChoice::Process => TriangleMarker::new((0, 0), 6, style).into_dyn(),
        ModeChoice::Hybrid => Rectangle::new([(-4, -4), (4, 4)], style).into_dyn(),
        ModeChoice::Auto => Cross::new((0, 0), 5, color.stroke_width(2)).into_dyn(),
        ModeChoice::Serial => Circle::new((0, 0), 6, SERIAL_COLOR.filled()).into_dyn(),
    }
}
