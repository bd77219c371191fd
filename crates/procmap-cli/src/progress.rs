//! Progress on stderr: an indicatif bar on a terminal, or with
//! `--progress always` a plain status line every second elsewhere (a CI
//! log, a file), like tqdm in seed 001.

use crate::run::args::ProgressArg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
    done: u64,
    failed: u64,
}

struct Plain {
    started: Instant,
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
                    ProgressStyle::with_template(
                        "{bar:30.cyan/blue} {pos}/{len} jobs  {per_sec}  eta {eta}  {msg}",
                    )
                    .expect("valid template"),
                );
                (Some(bar), None)
            }
            (ProgressArg::Always, _, false) => {
                let now = Instant::now();
                (None, Some(Plain { started: now, last: now, total: None }))
            }
        };
        Progress { bar, plain, done: 0, failed: 0 }
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
            if let Some(bar) = &self.bar {
                bar.set_message(format!("{} failed", self.failed));
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(plain) = &mut self.plain
            && plain.last.elapsed() >= Duration::from_secs(1)
        {
            plain.last = Instant::now();
            let rate = self.done as f64 / plain.started.elapsed().as_secs_f64();
            let of = plain.total.map(|t| format!("/{t}")).unwrap_or_default();
            say!("procmap: {}{of} jobs, {} failed, {rate:.0} jobs/s", self.done, self.failed);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
