//! What a pool's input is made of. Apart from the feeder (`mod.rs`) so that
//! the sources it pulls from can name it without depending on the feeder.

use procmap_wire::Job;

/// One item of a pool's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A job to run.
    Job(Job),
    /// A job to run alone: its worker takes nothing else until it is done,
    /// so that a death there is surely its own. The Python pool sends a
    /// suspect so when its workers may run several threads (`mode="auto"`),
    /// where a death shared by several running items blames none of them.
    Alone(Job),
    /// A line that could not be turned into a job; it becomes an `error`
    /// record without being dispatched.
    Invalid { id: u64, task: String, args: Vec<String>, error: String },
    /// A job already done (a resumed run): it does not run and gets no
    /// record, but the outputs it wrote stay claimed, so that no other job
    /// of the run may overwrite them.
    Done(Job),
}

impl Input {
    /// Its line (the job's id, or the invalid line's).
    pub fn id(&self) -> u64 {
        match self {
            Input::Job(job) | Input::Alone(job) | Input::Done(job) => job.id,
            Input::Invalid { id, .. } => *id,
        }
    }

    /// The same job as done (it keeps its outputs claimed and does not
    /// run); an invalid line has nothing to claim and goes.
    pub fn into_done(self) -> Option<Input> {
        match self {
            Input::Job(job) | Input::Alone(job) | Input::Done(job) => Some(Input::Done(job)),
            Input::Invalid { .. } => None,
        }
    }
}

impl From<Job> for Input {
    fn from(job: Job) -> Self {
        Input::Job(job)
    }
}
