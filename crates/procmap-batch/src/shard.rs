//! `--shard I/N`: run only the jobs whose identity hashes to shard I of N.
//!
//! A job's shard is a function of its text alone ([`shard_of`]): N machines
//! agree on who runs what without talking to each other, a line inserted
//! anywhere moves no other job to another shard, and identical lines land on
//! the same shard, so that each shard can number them on its own (see
//! [`crate::identity`]). Hashing, rather than cutting the file into N blocks,
//! spreads a block of slow jobs (all `Residential/*.tif` together) over
//! every shard, as nextest's `--partition hash:M/N` does for tests.
//!
//! `--shard auto` reads the index from the scheduler: a Slurm job array
//! (`SLURM_ARRAY_TASK_ID`) or a Kubernetes Indexed Job
//! (`JOB_COMPLETION_INDEX`).

use crate::identity::input_hash;
use crate::identity::shard_of;
use anyhow::{Context as _, bail};
use procmap::Input;
use std::fmt;

/// One shard of a batch: `index` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The most shards a batch may have: journal names number them with four
/// digits, and Slurm's arrays stop at 10,000 tasks by default.
pub const MAX_SHARDS: u32 = 9999;

impl Shard {
    pub fn new(index: u32, count: u32) -> anyhow::Result<Shard> {
        if count == 0 {
            bail!("a batch has at least 1 shard");
        }
        if count > MAX_SHARDS {
            bail!("a batch has at most {MAX_SHARDS} shards, not {count}");
        }
        if index >= count {
            bail!("shard {index} does not exist: shards of {count} are numbered 0 to {}", count - 1);
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs the jobs whose hash is `hash`.
    pub fn owns(&self, hash: u64) -> bool {
        shard_of(hash, self.count) == self.index
    }

    /// `shard-0003-of-0016.jsonl`: sorts in shard order for up to 10,000
    /// shards, and names its batch's shard count so that journals of two
    /// different splits can never be mistaken for each other.
    pub fn journal_name(&self) -> String {
        format!("shard-{:04}-of-{:04}.jsonl", self.index, self.count)
    }

    /// The inverse of [`Shard::journal_name`].
    pub fn from_journal_name(name: &str) -> Option<Shard> {
        let rest = name.strip_prefix("shard-")?.strip_suffix(".jsonl")?;
        let (index, count) = rest.split_once("-of-")?;
        Shard::new(index.parse().ok()?, count.parse().ok()?).ok()
    }
}

/// What `--shard` says, before the environment is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto,
}

pub fn parse_shard(s: &str) -> Result<ShardArg, String> {
    if s == "auto" {
        return Ok(ShardArg::Auto);
    }
    let parsed = s.split_once('/').and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    let Some((index, count)) = parsed else {
        return Err(format!("{s:?} is neither I/N (0-based, e.g. 3/16) nor `auto`"));
    };
    Shard::new(index, count).map(ShardArg::Fixed).map_err(|e| e.to_string())
}

/// Variables `--shard auto` reads, in the order it tries them.
pub const SLURM_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
pub const SLURM_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
pub const SLURM_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
pub const SLURM_TASK_MAX: &str = "SLURM_ARRAY_TASK_MAX";
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";

/// The shard this process runs. `shards` is `--shards N`; `env` looks up
/// an environment variable (a parameter so that tests need no process
/// environment).
pub fn resolve(
    arg: ShardArg,
    shards: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Shard> {
    let number = |name: &str| -> anyhow::Result<Option<u32>> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .with_context(|| format!("{name}={v:?} is not a task index: is this a job array?")),
        }
    };
    match arg {
        ShardArg::Fixed(shard) => {
            if let Some(n) = shards.filter(|&n| n != shard.count) {
                bail!("--shard {shard} and --shards {n} disagree on the number of shards");
            }
            Ok(shard)
        }
        ShardArg::Auto => {
            if let Some(id) = number(SLURM_TASK_ID)? {
                return match shards {
                    // Task ids are shard indices: `slurm resubmit` reruns a
                    // subset such as --array=3,7, whose MIN and COUNT say
                    // nothing about the batch.
                    Some(count) => Shard::new(id, count)
                        .with_context(|| format!("{SLURM_TASK_ID}={id} with --shards {count}")),
                    None => {
                        let (Some(min), Some(count)) = (number(SLURM_TASK_MIN)?, number(SLURM_TASK_COUNT)?)
                        else {
                            bail!(
                                "{SLURM_TASK_ID} is set but {SLURM_TASK_MIN} or {SLURM_TASK_COUNT} is not: add --shards N"
                            );
                        };
                        // --array=3,7 or 0-15:2: MIN and COUNT do not number
                        // the tasks 0 to COUNT-1, so ID - MIN is no shard.
                        if let Some(max) = number(SLURM_TASK_MAX)?
                            && max.checked_sub(min).map(|span| span + 1) != Some(count)
                        {
                            bail!(
                                "the Slurm array has gaps or steps ({SLURM_TASK_MIN}={min}, {SLURM_TASK_MAX}={max}, \
                                 {SLURM_TASK_COUNT}={count}): add --shards N, and task ids are shard indices"
                            );
                        }
                        let index = id.checked_sub(min).with_context(|| {
                            format!("{SLURM_TASK_ID}={id} is below {SLURM_TASK_MIN}={min}")
                        })?;
                        Shard::new(index, count).with_context(|| {
                            format!(
                                "{SLURM_TASK_ID}={id}, {SLURM_TASK_MIN}={min}, {SLURM_TASK_COUNT}={count}: \
                                 an array with gaps or steps needs --shards N and task ids 0 to N-1"
                            )
                        })
                    }
                };
            }
            if let Some(index) = number(K8S_INDEX)? {
                let Some(count) = shards else {
                    bail!(
                        "{K8S_INDEX}={index} is set but the shard count is not: add --shards N (the Job's completions)"
                    );
                };
                return Shard::new(index, count)
                    .with_context(|| format!("{K8S_INDEX}={index} with --shards {count}"));
            }
            bail!(
                "--shard auto found no task index: neither {SLURM_TASK_ID} (a Slurm job array) nor \
                 {K8S_INDEX} (a Kubernetes Indexed Job, with --shards N) is set; elsewhere use --shard I/N"
            )
        }
    }
}

/// Keeps the inputs of one shard. The jobs of other shards pass as
/// [`Input::Done`]: they do not run and get no record, but their outputs
/// stay claimed, so that two lines naming one output are refused the same
/// way whether or not they land on the same shard.
pub fn filter(
    inputs: Box<dyn Iterator<Item = Input> + Send>,
    shard: Shard,
) -> Box<dyn Iterator<Item = Input> + Send> {
    Box::new(inputs.filter_map(move |input| {
        if shard.owns(input_hash(&input)) {
            return Some(input);
        }
        input.into_done()
    }))
}

/// How many jobs of a jobs file belong to `shard`, for the progress bar.
pub fn count(reader: impl std::io::BufRead + Send + 'static, task: Option<String>, shard: Shard) -> u64 {
    let inputs = crate::jobs::JobReader::new(reader, task);
    filter(Box::new(inputs), shard).filter(|input| !matches!(input, Input::Done(_))).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    /// Which lines of `text` each of `count` shards runs.
    fn lines_of_shards(text: &str, count: u32) -> Vec<Vec<u64>> {
        (0..count)
            .map(|index| {
                let inputs = crate::jobs::JobReader::new(std::io::Cursor::new(text.to_owned()), None);
                filter(Box::new(inputs), Shard { index, count })
                    .filter_map(|input| match input {
                        Input::Job(job) | Input::Alone(job) => Some(job.id),
                        Input::Invalid { id, .. } => Some(id),
                        Input::Done(_) => None,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_file() {
        // Repeated lines, comments, blanks and an invalid line, as real
        // jobs files have.
        let mut text = String::from("# header\n\n");
        for i in 0..3000 {
            text.push_str(&format!("cube {}\n", i % 2500));
            if i % 500 == 0 {
                text.push_str("fault segfault\ncube 'unbalanced\n\n");
            }
        }
        let all: Vec<u64> = lines_of_shards(&text, 1).remove(0);
        assert_eq!(all.len(), 3000 + 6 * 2);
        for count in [1, 2, 7, 64] {
            let shards = lines_of_shards(&text, count);
            let mut union: Vec<u64> = shards.iter().flatten().copied().collect();
            union.sort_unstable();
            let before = union.len();
            union.dedup();
            assert_eq!(union.len(), before, "a line ran on two of {count} shards");
            assert_eq!(union, all, "the {count} shards together are the whole file");
            assert!(shards.iter().all(|s| !s.is_empty()), "every one of {count} shards has work");
        }
    }

    #[test]
    fn other_shards_jobs_stay_claimed() {
        let inputs = crate::jobs::JobReader::new(&b"cube 1\ncube 2\ncube 3\ncube 4\n"[..], None);
        let out: Vec<Input> = filter(Box::new(inputs), Shard { index: 0, count: 2 }).collect();
        assert_eq!(out.len(), 4, "every valid job passes, as a job or as done");
        assert!(out.iter().any(|i| matches!(i, Input::Done(_))));
    }

    #[test]
    fn an_inserted_line_moves_no_other_job() {
        let before = "cube 1\ncube 2\ncube 2\ncube 3\n";
        let after = "cube 0\ncube 1\ncube 2\ncube 2\ncube 3\n";
        let ids = |text: &str| -> Vec<u32> {
            crate::jobs::JobReader::new(text.as_bytes(), None).map(|i| shard_of(input_hash(&i), 7)).collect()
        };
        assert_eq!(ids(before)[..], ids(after)[1..]);
    }

    #[test]
    fn fixed_shards_parse_and_check_their_range() {
        assert_eq!(parse_shard("3/16"), Ok(ShardArg::Fixed(Shard { index: 3, count: 16 })));
        assert_eq!(parse_shard("auto"), Ok(ShardArg::Auto));
        assert!(parse_shard("16/16").unwrap_err().contains("numbered 0 to 15"));
        assert!(parse_shard("0/0").is_err());
        assert!(parse_shard("0/4294967295").unwrap_err().contains("at most 9999 shards"));
        assert!(parse_shard("9998/9999").is_ok());
        assert!(parse_shard("3").unwrap_err().contains("I/N"));
        assert!(resolve(ShardArg::Fixed(Shard { index: 1, count: 4 }), Some(8), env(&[])).is_err());
    }

    #[test]
    fn auto_reads_a_slurm_array() {
        let vars = [(SLURM_TASK_ID, "5"), (SLURM_TASK_MIN, "1"), (SLURM_TASK_COUNT, "16")];
        assert_eq!(resolve(ShardArg::Auto, None, env(&vars)).unwrap(), Shard { index: 4, count: 16 });
        // A resubmitted subset (--array=3,7): the id is the shard.
        let vars = [(SLURM_TASK_ID, "7"), (SLURM_TASK_MIN, "3"), (SLURM_TASK_COUNT, "2")];
        assert_eq!(resolve(ShardArg::Auto, Some(16), env(&vars)).unwrap(), Shard { index: 7, count: 16 });
        // The same subset without --shards would be shard 4 of 2: refused.
        let vars =
            [(SLURM_TASK_ID, "7"), (SLURM_TASK_MIN, "3"), (SLURM_TASK_MAX, "7"), (SLURM_TASK_COUNT, "2")];
        let err = resolve(ShardArg::Auto, None, env(&vars)).unwrap_err();
        assert!(err.to_string().contains("add --shards N"), "{err}");
        let vars =
            [(SLURM_TASK_ID, "2"), (SLURM_TASK_MIN, "1"), (SLURM_TASK_MAX, "4"), (SLURM_TASK_COUNT, "4")];
        assert_eq!(resolve(ShardArg::Auto, None, env(&vars)).unwrap(), Shard { index: 1, count: 4 });
        let err = resolve(ShardArg::Auto, Some(4), env(&[(SLURM_TASK_ID, "4")])).unwrap_err();
        assert!(format!("{err:#}").contains("numbered 0 to 3"), "{err:#}");
        let err = resolve(ShardArg::Auto, None, env(&[(SLURM_TASK_ID, "x")])).unwrap_err();
        assert!(format!("{err:#}").contains("not a task index"), "{err:#}");
    }

    #[test]
    fn auto_reads_a_kubernetes_indexed_job() {
        let vars = [(K8S_INDEX, "2")];
        assert_eq!(resolve(ShardArg::Auto, Some(3), env(&vars)).unwrap(), Shard { index: 2, count: 3 });
        let err = resolve(ShardArg::Auto, None, env(&vars)).unwrap_err();
        assert!(err.to_string().contains("add --shards N"), "{err}");
    }

    #[test]
    fn auto_without_a_scheduler_says_what_it_looked_for() {
        let err = resolve(ShardArg::Auto, Some(4), env(&[])).unwrap_err().to_string();
        assert!(err.contains(SLURM_TASK_ID) && err.contains(K8S_INDEX), "{err}");
    }

    #[test]
    fn journal_names_round_trip() {
        let shard = Shard { index: 3, count: 16 };
        assert_eq!(shard.journal_name(), "shard-0003-of-0016.jsonl");
        assert_eq!(Shard::from_journal_name(&shard.journal_name()), Some(shard));
        assert_eq!(Shard::from_journal_name("shard-0016-of-0016.jsonl"), None);
        assert_eq!(Shard::from_journal_name("results.jsonl"), None);
    }
}
