//! The rate a progress line shows (the command line's and Python's): the recent one (jobs over the last few
//! seconds), not the average since the start, in the unit a person reads at
//! a glance.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the recent rate looks.
pub const WINDOW: Duration = Duration::from_secs(10);
/// How often a sample is kept.
const EVERY: Duration = Duration::from_millis(500);

/// Samples of (when, jobs done) over the last [`WINDOW`].
#[derive(Debug)]
pub struct Recent {
    samples: VecDeque<(Instant, u64)>,
}

impl Recent {
    pub fn new(start: Instant) -> Recent {
        Recent { samples: VecDeque::from([(start, 0)]) }
    }

    /// Notes `done` jobs at `now`; returns the jobs per second since the
    /// oldest sample within the window, once some time has passed.
    pub fn update(&mut self, now: Instant, done: u64) -> Option<f64> {
        if self.samples.back().is_none_or(|&(at, _)| now.saturating_duration_since(at) >= EVERY) {
            self.samples.push_back((now, done));
        }
        while self.samples.len() > 2
            && self.samples.get(1).is_some_and(|&(at, _)| now.saturating_duration_since(at) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let &(since, then) = self.samples.front()?;
        let secs = now.saturating_duration_since(since).as_secs_f64();
        (secs >= 0.2).then(|| done.saturating_sub(then) as f64 / secs)
    }
}

/// A rate as a person reads it: whole jobs per second when there are many,
/// one decimal below 10, jobs per minute below one a second.
pub fn label(per_sec: f64) -> String {
    if per_sec >= 9.95 {
        format!("{per_sec:.0} jobs/s")
    } else if per_sec >= 0.995 {
        format!("{per_sec:.1} jobs/s")
    } else {
        let per_min = per_sec * 60.0;
        if per_min >= 9.95 { format!("{per_min:.0} jobs/min") } else { format!("{per_min:.1} jobs/min") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_at_a_glance() {
        assert_eq!(label(24.3459), "24 jobs/s");
        assert_eq!(label(4696.2), "4696 jobs/s");
        assert_eq!(label(3.456), "3.5 jobs/s");
        assert_eq!(label(0.5), "30 jobs/min");
        assert_eq!(label(0.01), "0.6 jobs/min");
        assert_eq!(label(0.0), "0.0 jobs/min");
    }

    #[test]
    fn the_rate_is_the_recent_one_not_the_average() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut recent = Recent::new(t0);
        assert_eq!(recent.update(at(0.1), 5), None, "too soon to say");
        // 100 jobs/s for 60 s, then 1 job/s: the rate follows within the window.
        let mut done = 0;
        for tick in 1..=600 {
            done += 10;
            recent.update(at(tick as f64 / 10.0), done);
        }
        let fast = recent.update(at(60.0), done).unwrap();
        assert!((fast - 100.0).abs() < 1.0, "{fast}");
        for s in 61..=80 {
            done += 1;
            recent.update(at(s as f64), done);
        }
        let slow = recent.update(at(80.0), done).unwrap();
        assert!(slow < 2.0, "the last 10 s ran 1 job/s, not {slow} (the average is {})", done as f64 / 80.0);
        assert!(recent.samples.len() <= 2 + (WINDOW.as_millis() / EVERY.as_millis()) as usize);
    }
}
