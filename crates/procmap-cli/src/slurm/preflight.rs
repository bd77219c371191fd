//! The checks of a whole jobs file that no single shard can make: how many
//! jobs each shard gets, which lines are invalid, and which outputs two
//! lines would both write (on two nodes, neither would see the other).

use anyhow::Context as _;
use procmap::{Input, Registry, RunContext};
use procmap_batch::identity::shard_of;
use procmap_batch::jobs::JobReader;
use procmap_batch::source::input_hash;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// At most this many invalid lines and conflicts are listed.
const LISTED: usize = 10;

#[derive(Debug, Default)]
pub struct Preflight {
    pub jobs: u64,
    pub per_shard: Vec<u64>,
    pub invalid: u64,
    /// `line N: why`, the first few.
    pub invalid_lines: Vec<String>,
    pub conflicts: u64,
    /// `lines A and B both write PATH`, the first few.
    pub conflict_lines: Vec<String>,
}

pub struct Check<'a> {
    pub registry: &'a Registry,
    pub context: &'a RunContext,
    pub task: Option<String>,
    pub shards: u32,
    /// A custom worker may have tasks this binary does not know: their
    /// lines cannot be checked here.
    pub custom_worker: bool,
}

impl Check<'_> {
    pub fn run(&self, jobs: &Path) -> anyhow::Result<Preflight> {
        let file =
            std::fs::File::open(jobs).with_context(|| format!("cannot read jobs file {}", jobs.display()))?;
        let mut report = Preflight { per_shard: vec![0; self.shards as usize], ..Default::default() };
        // Outputs by a hash of their path, as the engine keys its claims:
        // 16 bytes a job, whatever the path's length.
        let mut claims: HashMap<u64, u64> = HashMap::new();
        let reader = std::io::BufReader::with_capacity(256 * 1024, file);
        for input in JobReader::new(reader, self.task.clone()) {
            report.jobs += 1;
            report.per_shard[shard_of(input_hash(&input), self.shards) as usize] += 1;
            let job = match input {
                Input::Job(job) | Input::Alone(job) | Input::Done(job) => job,
                Input::Invalid { id, error, .. } => {
                    report.invalid(id, &error);
                    continue;
                }
            };
            let Some(task) = self.registry.get(&job.task) else {
                if !self.custom_worker {
                    report.invalid(job.id, &format!("unknown task {:?} (see `supervisor tasks`)", job.task));
                }
                continue;
            };
            match task.plan(&job.args, self.context) {
                Err(e) => report.invalid(job.id, e.message()),
                Ok(outputs) => {
                    for output in outputs {
                        let key = path_key(&output);
                        match claims.get(&key) {
                            Some(&first) => {
                                report.conflicts += 1;
                                if report.conflict_lines.len() < LISTED {
                                    report.conflict_lines.push(format!(
                                        "lines {first} and {} both write {}",
                                        job.id,
                                        output.display()
                                    ));
                                }
                            }
                            None => {
                                claims.insert(key, job.id);
                            }
                        }
                    }
                }
            }
        }
        Ok(report)
    }
}

impl Preflight {
    fn invalid(&mut self, line: u64, why: &str) {
        self.invalid += 1;
        if self.invalid_lines.len() < LISTED {
            self.invalid_lines.push(format!("line {line}: {why}"));
        }
    }

    /// What the check found, for the terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let (min, max) = (self.per_shard.iter().min(), self.per_shard.iter().max());
        let _ = writeln!(
            out,
            "{} jobs in {} shards of {}–{} jobs",
            self.jobs,
            self.per_shard.len(),
            min.unwrap_or(&0),
            max.unwrap_or(&0)
        );
        if self.invalid > 0 {
            let _ = writeln!(out, "{} invalid line(s); each will be recorded as an error:", self.invalid);
            more(&mut out, &self.invalid_lines, self.invalid);
        }
        if self.conflicts > 0 {
            let _ = writeln!(out, "{} output(s) that two lines would both write:", self.conflicts);
            more(&mut out, &self.conflict_lines, self.conflicts);
        }
        out
    }
}

fn more(out: &mut String, listed: &[String], total: u64) {
    for line in listed {
        let _ = writeln!(out, "  {line}");
    }
    if total > listed.len() as u64 {
        let _ = writeln!(out, "  … and {} more", total - listed.len() as u64);
    }
}

fn path_key(path: &Path) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(path)
}
