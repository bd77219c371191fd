//! Drawing primitives of the report: escaping, axis steps and labels, and
//! the line charts, as text appended to the page.

use std::fmt::Write as _;

/// `text` safe inside HTML and SVG, in elements and in quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into at
/// most `ticks` parts.
pub fn nice_step(span: f64, ticks: usize) -> f64 {
    if span.is_nan() || span <= 0.0 || ticks == 0 {
        return 1.0;
    }
    let raw = span / ticks as f64;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|&s| s >= raw).unwrap_or(10.0 * power)
}

/// A time since the run's start as people read it: `0`, `35µs`, `2.5ms`,
/// `450ms`, `12s`, `1.5s`, `3m20s`, `2h05m`.
pub fn duration_label(secs: f64) -> String {
    if secs <= 0.0 {
        "0".to_owned()
    } else if secs < 1e-3 {
        format!("{}µs", (secs * 1e6).round())
    } else if secs < 1e-2 {
        let text = format!("{:.1}", secs * 1e3);
        format!("{}ms", text.strip_suffix(".0").unwrap_or(&text))
    } else if secs < 1.0 {
        format!("{}ms", (secs * 1e3).round())
    } else if secs < 60.0 {
        let text = format!("{secs:.1}");
        format!("{}s", text.strip_suffix(".0").unwrap_or(&text))
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// A time since the epoch as a UTC date and time, `2026-12-02 15:26:31 UTC`.
pub fn utc_label(unix: f64) -> String {
    let secs = unix.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest / 60 % 60, rest % 60)
}

/// A number for an axis: whole when large, else with up to 2 decimals.
pub fn number_label(v: f64) -> String {
    if v >= 100.0 {
        format!("{}", v.round())
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Where the plots sit in the page's SVGs.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Left of the plot area (room for labels), and its width.
    pub left: f64,
    pub width: f64,
    /// The run's span in seconds: the plot's width in time.
    pub span: f64,
}

impl Frame {
    pub fn x(&self, t: f64) -> f64 {
        self.left + t / self.span.max(1e-9) * self.width
    }
}

/// Tick marks and labels of the time axis, at `y`, down to `bottom`.
pub fn time_axis(out: &mut String, frame: Frame, y: f64, top: f64) {
    let step = nice_step(frame.span, 10);
    let mut t = 0.0;
    while t <= frame.span + step * 1e-9 {
        let x = frame.x(t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y + 12.0,
            duration_label(t)
        );
        t += step;
    }
}

/// A chart of `values` (one per bucket of equal width over the frame's
/// span), `height` pixels high, with its maximum labelled in `unit`.
pub fn line_chart(out: &mut String, id: &str, title: &str, unit: &str, values: &[f64], frame: Frame) {
    let height = 140.0;
    let (top, bottom) = (20.0, 20.0 + height);
    let max = values.iter().copied().fold(0.0, f64::max);
    let scale = if max > 0.0 { height / max } else { 0.0 };
    let total_width = frame.left + frame.width + 10.0;
    let _ = write!(
        out,
        r#"<h2>{}</h2><svg id="{id}" class="chart" width="{total_width:.0}" height="{:.0}" viewBox="0 0 {total_width:.0} {:.0}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title),
        bottom + 20.0,
        bottom + 20.0
    );
    time_axis(out, frame, bottom, top);
    let step = frame.span / values.len().max(1) as f64;
    let mut points = format!("{:.1},{bottom:.1}", frame.x(0.0));
    for (i, v) in values.iter().enumerate() {
        let y = bottom - v * scale;
        let _ = write!(
            points,
            " {:.1},{y:.1} {:.1},{y:.1}",
            frame.x(i as f64 * step),
            frame.x((i + 1) as f64 * step)
        );
    }
    let _ = write!(points, " {:.1},{bottom:.1}", frame.x(frame.span));
    let _ = write!(
        out,
        r#"<polygon class="area" points="{points}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text><text class="tick" x="{:.1}" y="{bottom:.1}" text-anchor="end">0</text></svg>"#,
        frame.left - 6.0,
        top + 4.0,
        number_label(max),
        esc(unit),
        frame.left - 6.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_cut_the_span_into_few_parts() {
        assert_eq!(nice_step(10.0, 10), 1.0);
        assert_eq!(nice_step(11.0, 10), 2.0);
        assert_eq!(nice_step(0.3, 10), 0.05);
        assert_eq!(nice_step(3600.0, 10), 500.0);
        assert_eq!(nice_step(0.0, 10), 1.0);
        assert_eq!(nice_step(f64::NAN, 10), 1.0);
    }

    #[test]
    fn labels_read_as_people_write_them() {
        assert_eq!(duration_label(0.0), "0");
        assert_eq!(duration_label(0.000_035), "35µs");
        assert_eq!(duration_label(0.0025), "2.5ms");
        assert_eq!(duration_label(0.002), "2ms");
        assert_eq!(duration_label(0.45), "450ms");
        assert_eq!(duration_label(12.0), "12s");
        assert_eq!(duration_label(1.5), "1.5s");
        assert_eq!(duration_label(200.0), "3m20s");
        assert_eq!(duration_label(7500.0), "2h05m");
        assert_eq!(utc_label(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_label(1_796_225_191.7), "2026-12-02 15:26:31 UTC");
        assert_eq!(utc_label(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(number_label(24.3459), "24.35");
        assert_eq!(number_label(4696.2), "4696");
        assert_eq!(number_label(2.0), "2");
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
