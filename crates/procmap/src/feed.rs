//! The supervisor side of the input: pulling jobs lazily, rejecting invalid
//! ones before dispatch, and cutting the rest into chunks.

use crate::exec::unknown_task_message;
use crate::handoff::{self, Taken};
use crate::record::JobRecord;
use crate::task::Registry;
use procmap_wire::{Job, RunContext};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One item of a pool's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A job to run.
    Job(Job),
    /// A line that could not be turned into a job; it becomes an `error`
    /// record without being dispatched.
    Invalid { id: u64, task: String, args: Vec<String>, error: String },
    /// A job already done (a resumed run): it does not run and gets no
    /// record, but the outputs it wrote stay claimed, so that no other job
    /// of the run may overwrite them.
    Done(Job),
}

impl From<Job> for Input {
    fn from(job: Job) -> Self {
        Input::Job(job)
    }
}

/// The most bytes of job text one chunk may carry. ipc-channel fragments a
/// message over 212,448 bytes through an extra socket that blocks until the
/// peer drains it; two chunks in flight well under that always fit in the
/// socket buffer, so a send to a worker never blocks the dispatcher.
pub(crate) const CHUNK_BYTES: usize = 48 * 1024;

/// Where a [`Feeder`] gets its input.
pub(crate) enum Source {
    /// Pulled on the feeder's own thread, which may block on it (thread and
    /// serial modes, whose feeding thread does nothing else).
    Blocking(Box<dyn Iterator<Item = Input> + Send>),
    /// Read by a thread of its own (process mode): a slow producer, such as
    /// a pipe that writes a line a minute, must never stall the dispatcher's
    /// handling of results, timeouts and signals.
    Background {
        queue: handoff::Consumer<Input>,
        /// Inputs taken from the queue and not pulled yet.
        taken: VecDeque<Input>,
        hungry: Arc<AtomicBool>,
    },
}

/// Inputs the reading thread may queue ahead of the dispatcher.
const READ_AHEAD: usize = 4096;

enum Pulled {
    Input(Input),
    /// Nothing yet; the reading thread wakes the dispatcher when there is.
    NotYet,
    End,
}

impl Source {
    /// Starts a thread that reads `inputs` into a bounded queue. It calls
    /// `wake` only when the dispatcher said it is waiting for input: waking
    /// it for every line, when it is busy anyway, would cost a context switch
    /// a job.
    pub(crate) fn background(
        inputs: Box<dyn Iterator<Item = Input> + Send>,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Source> {
        let (tx, queue) = handoff::bounded(READ_AHEAD);
        let hungry = Arc::new(AtomicBool::new(false));
        let waiting = Arc::clone(&hungry);
        std::thread::Builder::new().name("input".into()).spawn(move || {
            for input in inputs {
                if tx.push(input).is_err() {
                    return;
                }
                if waiting.swap(false, Ordering::AcqRel) {
                    wake();
                }
            }
            drop(tx);
            wake();
        })?;
        Ok(Source::Background { queue, taken: VecDeque::with_capacity(READ_AHEAD), hungry })
    }

    /// The next input; `need` says whether the caller will wait for it (it
    /// then asks to be woken when it comes).
    fn pull(&mut self, need: bool) -> Pulled {
        match self {
            Source::Blocking(iter) => iter.next().map_or(Pulled::End, Pulled::Input),
            Source::Background { queue, taken, hungry } => {
                if let Some(input) = taken.pop_front() {
                    return Pulled::Input(input);
                }
                let mut asked = false;
                loop {
                    match queue.take(taken) {
                        Taken::Some => return taken.pop_front().map_or(Pulled::NotYet, Pulled::Input),
                        Taken::Closed => return Pulled::End,
                        Taken::Empty if !need || asked => return Pulled::NotYet,
                        Taken::Empty => {
                            // Ask, then look once more: a line queued just
                            // before the flag was set would otherwise wait
                            // for the next tick.
                            hungry.store(true, Ordering::Release);
                            asked = true;
                        }
                    }
                }
            }
        }
    }
}

pub(crate) struct Feeder {
    source: Source,
    /// Tasks that exist, by name; `None` until a worker has said which it has.
    known: Option<HashSet<String>>,
    /// Tasks whose `plan` the supervisor can run itself.
    local: Registry,
    context: RunContext,
    /// Which job claimed each output file, so a second job writing the same
    /// file is refused instead of silently overwriting it. Keyed by a hash
    /// of the path: 16 bytes a job rather than the whole path, for runs of
    /// millions of images (a false match would need a 64-bit collision).
    claims: HashMap<u64, u64>,
    /// Jobs pulled from the source and not yet handed out: one that did not
    /// fit in the last chunk, or a partial chunk waiting for more input.
    held: std::collections::VecDeque<Job>,
    held_bytes: usize,
    /// The source had nothing more to give on the last pull.
    lagging: bool,
    exhausted: bool,
}

impl Feeder {
    pub(crate) fn new(source: Source, local: Registry, context: RunContext) -> Self {
        Feeder {
            source,
            known: None,
            local,
            context,
            claims: HashMap::new(),
            held: Default::default(),
            held_bytes: 0,
            lagging: false,
            exhausted: false,
        }
    }

    pub(crate) fn set_known(&mut self, names: impl IntoIterator<Item = String>) {
        self.known = Some(names.into_iter().collect());
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        self.exhausted && self.held.is_empty()
    }

    /// Up to `size` valid jobs (fewer if they exceed [`CHUNK_BYTES`]),
    /// appending the records of invalid ones to `rejected`. Returns an empty
    /// chunk once the input is exhausted, and also when input is slower than
    /// the pool and `partial` is false: a busy worker is better served by a
    /// full chunk a moment later than by many small ones now.
    pub(crate) fn next_chunk(
        &mut self,
        size: usize,
        partial: bool,
        rejected: &mut Vec<JobRecord>,
    ) -> Vec<Job> {
        self.lagging = false;
        while self.held.len() < size && self.held_bytes < CHUNK_BYTES {
            match self.pull(partial, rejected) {
                Some(job) => {
                    self.held_bytes += job_bytes(&job);
                    self.held.push_back(job);
                }
                None => break,
            }
        }
        let full = self.held.len() >= size || self.held_bytes >= CHUNK_BYTES;
        if !full && self.lagging && !partial {
            return Vec::new();
        }
        let mut chunk = Vec::with_capacity(size.min(self.held.len()));
        let mut bytes = 0;
        while chunk.len() < size {
            let Some(job) = self.held.front() else { break };
            let cost = job_bytes(job);
            if !chunk.is_empty() && bytes + cost > CHUNK_BYTES {
                break;
            }
            bytes += cost;
            self.held_bytes -= cost;
            chunk.extend(self.held.pop_front());
        }
        chunk
    }

    /// The next valid job, rejecting invalid ones on the way. Stops early
    /// after many rejections so that a file of bad lines still streams.
    fn pull(&mut self, need: bool, rejected: &mut Vec<JobRecord>) -> Option<Job> {
        for _ in 0..4096 {
            let input = match self.source.pull(need) {
                Pulled::Input(input) => input,
                Pulled::NotYet => {
                    self.lagging = true;
                    return None;
                }
                Pulled::End => {
                    self.exhausted = true;
                    return None;
                }
            };
            if let Input::Done(job) = input {
                self.claim_outputs_of_done(&job);
                continue;
            }
            match self.admit(input) {
                Ok(job) => return Some(job),
                Err(record) => rejected.push(*record),
            }
        }
        None
    }

    /// The files `job` says it will write, if its task is known here.
    pub(crate) fn outputs(&self, job: &Job) -> Vec<std::path::PathBuf> {
        self.local
            .get(&job.task)
            .and_then(|task| task.plan(&job.args, &self.context).ok())
            .unwrap_or_default()
    }

    /// Gives up the claims of a job that failed: it wrote nothing, so a
    /// later job may write those files.
    pub(crate) fn release_claims(&mut self, record: &JobRecord) {
        if self.claims.is_empty() {
            return;
        }
        if let Some(task) = self.local.get(&record.task)
            && let Ok(outputs) = task.plan(&record.args, &self.context)
        {
            for output in outputs {
                let key = path_key(&output);
                if self.claims.get(&key) == Some(&record.line) {
                    self.claims.remove(&key);
                }
            }
        }
    }

    fn claim_outputs_of_done(&mut self, job: &Job) {
        if let Some(task) = self.local.get(&job.task)
            && let Ok(outputs) = task.plan(&job.args, &self.context)
        {
            for output in outputs {
                self.claims.entry(path_key(&output)).or_insert(job.id);
            }
        }
    }

    fn admit(&mut self, input: Input) -> Result<Job, Box<JobRecord>> {
        let job = match input {
            Input::Job(job) => job,
            Input::Done(job) => unreachable!("pull handles done job {}", job.id),
            Input::Invalid { id, task, args, error } => {
                return Err(Box::new(JobRecord::rejected(id, task, args, error)));
            }
        };
        let size = job_bytes(&job);
        if size > procmap_wire::MAX_JOB_BYTES {
            let error =
                format!("the job is {size} bytes long; at most {} are allowed", procmap_wire::MAX_JOB_BYTES);
            return Err(Box::new(JobRecord::rejected(job.id, job.task, job.args, error)));
        }
        let known = match &self.known {
            Some(known) => known.contains(&job.task),
            None => self.local.get(&job.task).is_some(),
        };
        if !known {
            let error = unknown_task_message(&job.task);
            return Err(Box::new(JobRecord::rejected(job.id, job.task, job.args, error)));
        }
        if let Some(task) = self.local.get(&job.task) {
            let outputs = match task.plan(&job.args, &self.context) {
                Ok(outputs) => outputs,
                Err(e) => {
                    return Err(Box::new(JobRecord::rejected(
                        job.id,
                        job.task,
                        job.args,
                        e.message().to_owned(),
                    )));
                }
            };
            for output in outputs {
                let key = path_key(&output);
                if let Some(first) = self.claims.get(&key) {
                    let error = format!(
                        "output {} is also the output of line {first}; refusing to let two jobs write one file",
                        output.display()
                    );
                    return Err(Box::new(JobRecord::rejected(job.id, job.task, job.args, error)));
                }
                self.claims.insert(key, job.id);
            }
        }
        Ok(job)
    }
}

fn path_key(path: &std::path::Path) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(path)
}

pub(crate) fn job_bytes(job: &Job) -> usize {
    16 + job.task.len() + job.args.iter().map(|a| a.len() + 2).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{JobError, Task};
    use serde_json::Value;

    /// Writes the file named by its one argument.
    struct Writes;

    impl Task for Writes {
        fn name(&self) -> &str {
            "writes"
        }
        fn usage(&self) -> &str {
            "OUTPUT"
        }
        fn about(&self) -> &str {
            "names one output"
        }
        fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<std::path::PathBuf>, JobError> {
            Ok(vec![args[0].clone().into()])
        }
        fn run(&self, _: &[String], _: &RunContext) -> Result<Value, JobError> {
            Ok(Value::Null)
        }
    }

    fn job(id: u64, output: &str) -> Input {
        Input::Job(Job { id, task: "writes".into(), args: vec![output.into()] })
    }

    fn feeder(inputs: Vec<Input>) -> Feeder {
        let mut registry = Registry::new();
        registry.register(Writes);
        Feeder::new(Source::Blocking(Box::new(inputs.into_iter())), registry, RunContext::default())
    }

    #[test]
    fn two_jobs_naming_one_output_refuse_the_second() {
        let mut feeder = feeder(vec![job(1, "x.png"), job(2, "x.png"), job(3, "y.png")]);
        let mut rejected = Vec::new();
        let chunk = feeder.next_chunk(10, true, &mut rejected);
        assert_eq!(chunk.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].error.as_deref().unwrap().contains("also the output of line 1"));
    }

    #[test]
    fn a_failed_job_releases_its_outputs_but_only_its_own() {
        let mut feeder = feeder(vec![job(1, "x.png"), job(2, "y.png"), job(3, "x.png"), job(4, "y.png")]);
        let mut rejected = Vec::new();
        assert_eq!(feeder.next_chunk(2, true, &mut rejected).len(), 2);
        // Line 1 failed: it wrote nothing. Line 4's y.png stays line 2's.
        let failed = JobRecord::rejected(1, "writes".into(), vec!["x.png".into()], "no input".into());
        feeder.release_claims(&failed);
        let not_owner = JobRecord::rejected(9, "writes".into(), vec!["y.png".into()], "x".into());
        feeder.release_claims(&not_owner);
        let chunk = feeder.next_chunk(2, true, &mut rejected);
        assert_eq!(chunk.iter().map(|j| j.id).collect::<Vec<_>>(), [3]);
        assert_eq!(rejected.len(), 1, "line 4 is refused: line 2 still owns y.png");
        assert_eq!(rejected[0].line, 4);
    }

    fn cube(id: u64, arg: &str) -> Input {
        Input::Job(Job { id, task: "writes".into(), args: vec![arg.into()] })
    }

    fn ids(jobs: &[Job]) -> Vec<u64> {
        jobs.iter().map(|j| j.id).collect()
    }

    #[test]
    fn a_job_costs_its_text_and_a_fixed_overhead() {
        let job = Job { id: 1, task: "abc".into(), args: vec!["de".into(), "f".into()] };
        assert_eq!(job_bytes(&job), 16 + 3 + (2 + 2) + (1 + 2));
    }

    #[test]
    fn chunks_stop_at_the_byte_cap_and_the_rest_waits_for_the_next() {
        // Each job is a bit over a quarter of the cap: three fit, not four.
        let big = "x".repeat(CHUNK_BYTES / 4);
        let inputs = (1..=5).map(|i| cube(i, &format!("{big}{i}"))).collect();
        let mut feeder = feeder(inputs);
        let mut rejected = Vec::new();
        let first = feeder.next_chunk(100, true, &mut rejected);
        assert_eq!(ids(&first), [1, 2, 3]);
        assert!(!feeder.is_exhausted(), "jobs 4 and 5 are held");
        assert_eq!(ids(&feeder.next_chunk(100, true, &mut rejected)), [4, 5]);
        assert!(feeder.is_exhausted());
        assert!(feeder.next_chunk(100, true, &mut rejected).is_empty());
        assert!(rejected.is_empty());
    }

    #[test]
    fn a_job_bigger_than_a_chunk_goes_alone() {
        let huge = "x".repeat(CHUNK_BYTES * 2);
        let mut feeder = feeder(vec![cube(1, "a"), cube(2, &huge), cube(3, "b")]);
        let mut rejected = Vec::new();
        assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [1]);
        assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [2]);
        assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [3]);
    }

    #[test]
    fn a_job_over_the_size_limit_is_refused_and_one_at_it_is_not() {
        let at_limit = "x".repeat(procmap_wire::MAX_JOB_BYTES - 16 - "writes".len() - 2);
        let over = format!("{at_limit}y");
        let mut feeder = feeder(vec![cube(1, &at_limit), cube(2, &over)]);
        let mut rejected = Vec::new();
        let mut ran = Vec::new();
        while !feeder.is_exhausted() {
            ran.extend(ids(&feeder.next_chunk(10, true, &mut rejected)));
        }
        assert_eq!(ran, [1]);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].error.as_deref().unwrap().contains("bytes long"), "{:?}", rejected[0].error);
    }

    #[test]
    fn tasks_a_worker_names_are_the_known_ones() {
        let mut feeder =
            feeder(vec![cube(1, "a"), Input::Job(Job { id: 2, task: "other".into(), args: vec![] })]);
        // The worker has "other" (a custom task) and not "writes".
        feeder.set_known(["other".to_owned()]);
        let mut rejected = Vec::new();
        assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [2]);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].error.as_deref().unwrap().contains("unknown task \"writes\""));
    }

    #[test]
    fn a_done_job_keeps_its_outputs_claimed_and_plans_them() {
        let done = Input::Done(Job { id: 1, task: "writes".into(), args: vec!["x.png".into()] });
        let mut feeder = feeder(vec![done, cube(2, "x.png"), cube(3, "y.png")]);
        let job = Job { id: 3, task: "writes".into(), args: vec!["y.png".into()] };
        assert_eq!(feeder.outputs(&job), [std::path::PathBuf::from("y.png")]);
        let mut rejected = Vec::new();
        assert_eq!(ids(&feeder.next_chunk(10, true, &mut rejected)), [3]);
        assert_eq!(rejected.len(), 1, "line 2 would overwrite done line 1's output");
        assert_eq!(rejected[0].line, 2);
    }

    #[test]
    fn a_busy_worker_waits_for_a_full_chunk_from_a_slow_producer() {
        // A producer that has sent two jobs and then pauses.
        let (tx, queue) = handoff::bounded(16);
        tx.push(cube(1, "a")).unwrap();
        tx.push(cube(2, "b")).unwrap();
        let hungry = Arc::new(AtomicBool::new(false));
        let source = Source::Background { queue, taken: VecDeque::new(), hungry: Arc::clone(&hungry) };
        let mut registry = Registry::new();
        registry.register(Writes);
        let mut feeder = Feeder::new(source, registry, RunContext::default());
        let mut rejected = Vec::new();
        // Not idle (partial = false): better a full chunk a moment later.
        assert!(feeder.next_chunk(4, false, &mut rejected).is_empty());
        assert!(!hungry.load(Ordering::Acquire), "a busy worker does not ask to be woken");
        // Idle: take what there is, and ask to be woken for more.
        assert_eq!(ids(&feeder.next_chunk(4, true, &mut rejected)), [1, 2]);
        assert!(hungry.load(Ordering::Acquire), "an idle worker asks to be woken");
        assert!(!feeder.is_exhausted(), "the producer may send more");
        drop(tx);
        assert!(feeder.next_chunk(4, true, &mut rejected).is_empty());
        assert!(feeder.is_exhausted());
    }
}
