//! Progress on stderr: an indicatif bar on a terminal, or with
//! `--progress always` a plain status line every second elsewhere (a CI
//! log, a file), like tqdm in seed 001.

use crate::run::args::ProgressArg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use procmap_batch::rate::{self, Recent};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
    done: u64,
    failed: u64,
    /// The recent rate, and when the bar's message last changed.
    recent: Recent,
    shown: Instant,
}

/// How often the bar's rate changes: often enough to be live, seldom
/// enough to be read.
const SHOW_EVERY: Duration = Duration::from_millis(500);

struct Plain {
    last: Instant,
    total: Option<u64>,
}

impl Progress {
    pub fn new(mode: ProgressArg, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let (bar, plain) = match (mode, quiet, terminal) {
            (_, true, _) | (ProgressArg::Never, _, _) | (ProgressArg::Auto, _, false) => (None, None),
            (_, _, true) => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
                bar.set_style(
                    ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} jobs  {msg}  eta {eta}")
                        .expect("valid template"),
                );
                (Some(bar), None)
            }
            (ProgressArg::Always, _, false) => (None, Some(Plain { last: Instant::now(), total: None })),
        };
        let now = Instant::now();
        Progress { bar, plain, done: 0, failed: 0, recent: Recent::new(now), shown: now }
    }

    pub fn set_total(&mut self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
        if let Some(plain) = &mut self.plain {
            plain.total = Some(total);
        }
    }

    pub fn record(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.failed += 1;
        }
        if self.bar.is_none() && self.plain.is_none() {
            return;
        }
        let now = Instant::now();
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if !ok || now.saturating_duration_since(self.shown) >= SHOW_EVERY {
                self.shown = now;
                let rate = self.recent.update(now, self.done);
                bar.set_message(status(rate, self.failed));
            }
        }
        if let Some(plain) = &mut self.plain
            && now.saturating_duration_since(plain.last) >= Duration::from_secs(1)
        {
            plain.last = now;
            let rate = self.recent.update(now, self.done);
            let of = plain.total.map(|t| format!("/{t}")).unwrap_or_default();
            say!("procmap: {}{of} jobs, {}", self.done, status(rate, self.failed));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The rate and the jobs not ok so far, e.g. `24 jobs/s, 3 not ok`.
fn status(rate: Option<f64>, failed: u64) -> String {
    let rate = rate.map_or_else(|| "…".to_owned(), rate::label);
    if failed == 0 { rate } else { format!("{rate}, {failed} not ok") }
}
