//! A halt policy (the CLI's `--halt`, Python's `halt=`): stopping a batch
//! that is clearly broken, with GNU parallel's semantics. `soon` stops dispatching and lets the jobs in flight finish
//! (as the first Ctrl-C does); `now` kills them (as the second does). The
//! journal keeps every record that arrived, so `--resume` continues the
//! batch. The decision is a pure function of the statuses seen so far.

use procmap::Status;

/// How many jobs must have finished before a percentage can halt the run:
/// one failure among the first few jobs says little about the batch.
pub const MIN_FOR_PERCENT: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Stop dispatching; jobs in flight finish and are recorded.
    Soon,
    /// Kill the jobs in flight; they are not recorded (a resume reruns them).
    Now,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// This many jobs not ok.
    Failures(u64),
    /// This share of finished jobs not ok, once [`MIN_FOR_PERCENT`] have
    /// finished.
    FailurePercent(f64),
    /// This many jobs ok.
    Successes(u64),
}

/// A `--halt` policy: `WHEN,CONDITION`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub when: When,
    pub trigger: Trigger,
}

impl std::str::FromStr for Policy {
    type Err = String;

    /// `now|soon,fail=N|fail=P%|success=N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage =
            || format!("{s:?}: expected WHEN,CONDITION such as soon,fail=3, now,fail=10% or soon,success=1");
        let (when, condition) = s.split_once(',').ok_or_else(usage)?;
        let when = match when {
            "soon" => When::Soon,
            "now" => When::Now,
            _ => {
                return Err(format!("{when:?}: WHEN is soon (let jobs in flight finish) or now (kill them)"));
            }
        };
        let (kind, value) = condition.split_once('=').ok_or_else(usage)?;
        let count = |v: &str| match v.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!("{v:?}: a count of at least 1 is needed")),
            Ok(n) => Ok(n),
        };
        let trigger = match (kind, value.strip_suffix('%')) {
            ("fail", Some(p)) => match p.parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => Trigger::FailurePercent(p),
                _ => return Err(format!("{value:?}: a percentage above 0 and at most 100 is needed")),
            },
            ("fail", None) => Trigger::Failures(count(value)?),
            ("success", None) => Trigger::Successes(count(value)?),
            _ => return Err(usage()),
        };
        Ok(Policy { when, trigger })
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = if self.when == When::Soon { "soon" } else { "now" };
        match self.trigger {
            Trigger::Failures(n) => write!(f, "{when},fail={n}"),
            Trigger::FailurePercent(p) => write!(f, "{when},fail={p}%"),
            Trigger::Successes(n) => write!(f, "{when},success={n}"),
        }
    }
}

/// The statuses seen so far, against a policy.
#[derive(Debug)]
pub struct Halt {
    policy: Policy,
    ok: u64,
    failed: u64,
    /// The counts when it fired.
    fired: Option<(u64, u64)>,
}

impl Halt {
    pub fn new(policy: Policy) -> Halt {
        Halt { policy, ok: 0, failed: 0, fired: None }
    }

    /// Notes a record's status; says when to stop, once, the moment the
    /// condition holds.
    pub fn observe(&mut self, status: Status) -> Option<When> {
        if status == Status::Ok { self.observe_counts(1, 0) } else { self.observe_counts(0, 1) }
    }

    /// Notes statuses that arrived together (Python's pool learns a
    /// chunk's at once): counted together and checked once, so a
    /// percentage is judged at the chunk's end, not between its items.
    pub fn observe_counts(&mut self, ok: u64, failed: u64) -> Option<When> {
        self.ok += ok;
        self.failed += failed;
        let done = self.ok + self.failed;
        let holds = match self.policy.trigger {
            Trigger::Failures(n) => self.failed >= n,
            Trigger::FailurePercent(p) => {
                done >= MIN_FOR_PERCENT && self.failed as f64 * 100.0 >= p * done as f64
            }
            Trigger::Successes(n) => self.ok >= n,
        };
        if holds && self.fired.is_none() {
            self.fired = Some((self.failed, self.ok));
            return Some(self.policy.when);
        }
        None
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Why the run halted, for the summary, naming the option as the user
    /// wrote it (`--halt`, `halt=`); `None` if it did not.
    pub fn reason(&self, option: &str) -> Option<String> {
        self.fired.map(|(failed, ok)| {
            format!("halted by {option} {}: {failed} not ok and {ok} ok when it fired", self.policy)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(policy: &str, statuses: &[Status]) -> Vec<Option<When>> {
        let mut halt = Halt::new(policy.parse().unwrap());
        statuses.iter().map(|&s| halt.observe(s)).collect()
    }

    #[test]
    fn policies_parse_as_gnu_parallel_writes_them_and_bad_ones_say_why() {
        assert_eq!("soon,fail=3".parse(), Ok(Policy { when: When::Soon, trigger: Trigger::Failures(3) }));
        assert_eq!(
            "now,fail=10%".parse(),
            Ok(Policy { when: When::Now, trigger: Trigger::FailurePercent(10.0) })
        );
        assert_eq!("soon,success=1".parse(), Ok(Policy { when: When::Soon, trigger: Trigger::Successes(1) }));
        for bad in [
            "later,fail=3",
            "soon",
            "soon,fail=0",
            "soon,fail=x",
            "now,fail=0%",
            "now,fail=101%",
            "soon,ok=1",
        ] {
            assert!(bad.parse::<Policy>().is_err(), "{bad}");
        }
        assert_eq!("now,fail=12.5%".parse::<Policy>().unwrap().to_string(), "now,fail=12.5%");
    }

    #[test]
    fn a_count_fires_once_at_the_nth_failure() {
        use Status::*;
        let fired = feed("soon,fail=2", &[Ok, Error, Ok, Crashed, Timeout, Error]);
        assert_eq!(fired, [None, None, None, Some(When::Soon), None, None]);
        assert_eq!(feed("now,success=2", &[Error, Ok, Ok, Ok]), [None, None, Some(When::Now), None]);
        let mut halt = Halt::new("soon,fail=1".parse().unwrap());
        assert_eq!(halt.reason("--halt"), None);
        halt.observe(Ok);
        halt.observe(Error);
        halt.observe(Error);
        assert_eq!(
            halt.reason("--halt").unwrap(),
            "halted by --halt soon,fail=1: 1 not ok and 1 ok when it fired"
        );
    }

    #[test]
    fn a_percentage_waits_for_enough_finished_jobs() {
        // Every job fails, but nothing fires before MIN_FOR_PERCENT.
        let fired = feed("soon,fail=50%", &vec![Status::Error; MIN_FOR_PERCENT as usize]);
        assert_eq!(fired.iter().position(Option::is_some), Some(MIN_FOR_PERCENT as usize - 1));
        // 1 in 20 (5%) does not fire at 10%; 2 in 20 does, at the 20th.
        let mut statuses = vec![Status::Ok; 19];
        statuses.push(Status::Error);
        assert!(feed("soon,fail=10%", &statuses).iter().all(Option::is_none));
        statuses[0] = Status::Error;
        let fired = feed("soon,fail=10%", &statuses);
        assert_eq!(fired.iter().position(Option::is_some), Some(19), "{fired:?}");
    }

    #[test]
    fn statuses_that_arrive_together_are_checked_once_at_their_end() {
        // A chunk of 3 failures with fail=2 fires at its end, once.
        let mut halt = Halt::new("soon,fail=2".parse().unwrap());
        assert_eq!(halt.observe_counts(5, 1), None);
        assert_eq!(halt.observe_counts(0, 3), Some(When::Soon));
        assert_eq!(halt.observe_counts(0, 3), None);
        assert_eq!(
            halt.reason("halt=").unwrap(),
            "halted by halt= soon,fail=2: 4 not ok and 5 ok when it fired"
        );
        // A percentage is judged on the chunk's totals: 3 failures in the
        // first 10 items of a 30-item chunk whose rest is ok are 10%.
        let mut halt = Halt::new("soon,fail=20%".parse().unwrap());
        assert_eq!(halt.observe_counts(27, 3), None);
        assert_eq!(halt.observe_counts(0, 5), Some(When::Soon));
    }
}
