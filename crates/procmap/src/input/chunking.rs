//! Chunk sizes: fixed, or sized from measured job times (`auto`).
//!
//! Python makes users guess a chunksize: too big and the last chunks
//! straggle and progress jumps, too small and IPC overhead dominates.
//! `auto` aims each chunk at [`TARGET`] of work, from an exponentially
//! weighted average of the job times workers report, and grows at most 2×
//! per chunk, as joblib does. A chunk round trip costs tens of
//! microseconds, so 10 ms chunks keep that overhead well under 1% while a
//! worker that runs out of work at the end waits at most a chunk or two.

use std::time::Duration;

/// Work per chunk that `auto` aims at.
pub(crate) const TARGET: Duration = Duration::from_millis(10);

/// The most jobs one chunk may hold (the byte cap in `feed` applies too).
pub(crate) const MAX_JOBS: usize = 4096;

/// How chunk sizes are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chunking {
    /// This many jobs per chunk.
    Fixed(usize),
    /// Sized from measured job times.
    #[default]
    Auto,
}

impl std::fmt::Display for Chunking {
    /// As `--chunksize` takes it: `auto` or a number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunking::Auto => f.write_str("auto"),
            Chunking::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for Chunking {
    type Err = String;

    /// `auto`, or a number of jobs of at least 1.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(Chunking::Auto);
        }
        match s.parse::<u32>() {
            Ok(0) => Err("a chunk holds at least 1 job".to_owned()),
            Ok(n) => Ok(Chunking::Fixed(n as usize)),
            Err(_) => Err(format!("{s:?} is neither a number of jobs nor `auto`")),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Chunker {
    chunking: Chunking,
    /// Jobs that run at once in one worker (threads per worker).
    parallel: usize,
    /// Average nanoseconds per job, once measured.
    per_job_ns: Option<f64>,
    last: usize,
}

impl Chunker {
    pub(crate) fn new(chunking: Chunking, parallel: usize) -> Self {
        Chunker { chunking, parallel: parallel.max(1), per_job_ns: None, last: 0 }
    }

    /// Jobs that run at once in one worker from now on (`--mode auto`).
    pub(crate) fn set_parallel(&mut self, parallel: usize) {
        self.parallel = parallel.max(1);
    }

    /// The size of the next chunk.
    pub(crate) fn next_size(&mut self) -> usize {
        let size = match self.chunking {
            Chunking::Fixed(n) => n.max(1),
            Chunking::Auto => {
                let ideal = match self.per_job_ns {
                    // Until a job has been timed, send one job per thread.
                    None => self.parallel,
                    Some(ns) => (TARGET.as_nanos() as f64 * self.parallel as f64 / ns.max(1.0)) as usize,
                };
                let ceiling = if self.last == 0 { self.parallel } else { self.last * 2 };
                ideal.clamp(1, MAX_JOBS).min(ceiling.max(1))
            }
        };
        self.last = size;
        size
    }

    /// How long `jobs` jobs are expected to take, once a job has been timed.
    pub(crate) fn queued_work(&self, jobs: usize) -> Option<Duration> {
        self.per_job_ns.map(|ns| Duration::from_nanos((ns * jobs as f64 / self.parallel as f64) as u64))
    }

    /// Feeds back how long `jobs` jobs took in all.
    pub(crate) fn observe(&mut self, jobs: usize, nanos: u64) {
        if jobs == 0 {
            return;
        }
        let sample = nanos as f64 / jobs as f64;
        self.per_job_ns = Some(match self.per_job_ns {
            None => sample,
            Some(avg) => 0.8 * avg + 0.2 * sample,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunksize_reads_and_prints_as_the_flag_takes_it() {
        assert_eq!("auto".parse::<Chunking>(), Ok(Chunking::Auto));
        assert_eq!("64".parse::<Chunking>(), Ok(Chunking::Fixed(64)));
        assert_eq!("0".parse::<Chunking>().unwrap_err(), "a chunk holds at least 1 job");
        assert!("Auto".parse::<Chunking>().unwrap_err().contains("neither a number of jobs nor `auto`"));
        assert!("-3".parse::<Chunking>().is_err());
        assert_eq!(Chunking::Auto.to_string(), "auto");
        assert_eq!(Chunking::Fixed(64).to_string(), "64");
    }

    #[test]
    fn fixed_is_fixed() {
        let mut c = Chunker::new(Chunking::Fixed(64), 1);
        c.observe(10, 1_000_000_000);
        assert_eq!(c.next_size(), 64);
    }

    #[test]
    fn auto_grows_at_most_twofold_toward_the_target() {
        let mut c = Chunker::new(Chunking::Auto, 1);
        assert_eq!(c.next_size(), 1);
        c.observe(1, 1_000); // 1 µs per job: ideal 10,000, capped at MAX_JOBS
        let sizes: Vec<usize> = (0..16).map(|_| c.next_size()).collect();
        assert_eq!(&sizes[..4], &[2, 4, 8, 16]);
        assert_eq!(*sizes.last().unwrap(), MAX_JOBS);
    }

    #[test]
    fn auto_sends_slow_jobs_one_at_a_time() {
        let mut c = Chunker::new(Chunking::Auto, 1);
        c.next_size();
        c.observe(2, 100_000_000); // 50 ms per job
        assert_eq!(c.next_size(), 1);
        let mut hybrid = Chunker::new(Chunking::Auto, 4);
        assert_eq!(hybrid.next_size(), 4, "one job per thread to start");
    }

    #[test]
    fn the_average_weighs_the_past_four_to_one() {
        let mut c = Chunker::new(Chunking::Auto, 1);
        assert_eq!(c.queued_work(10), None, "nothing is known before a job is timed");
        c.observe(4, 4_000_000); // 1 ms per job
        assert_eq!(c.queued_work(10), Some(Duration::from_millis(10)));
        c.observe(1, 6_000_000); // 6 ms: 0.8 × 1 + 0.2 × 6 = 2 ms
        assert_eq!(c.queued_work(10), Some(Duration::from_millis(20)));
        c.observe(0, 123); // no jobs: no change
        assert_eq!(c.queued_work(1), Some(Duration::from_millis(2)));
    }

    #[test]
    fn threads_divide_the_queued_work_and_multiply_the_chunk() {
        let mut c = Chunker::new(Chunking::Auto, 4);
        c.observe(1, 1_000_000); // 1 ms per job
        assert_eq!(c.queued_work(8), Some(Duration::from_millis(2)), "8 jobs on 4 threads");
        c.last = 1000;
        // 10 ms of work on each of 4 threads: 40 jobs.
        assert_eq!(c.next_size(), 40);
    }
}
