//! Admission: which inputs become jobs, and which files each job claims, so
//! that two jobs of one run never write the same file.

use super::{Feeder, Input, job_bytes};
use crate::exec::unknown_task_message;
use crate::record::JobRecord;
use procmap_wire::Job;

impl Feeder {
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

    pub(super) fn claim_outputs_of_done(&mut self, job: &Job) {
        if let Some(task) = self.local.get(&job.task)
            && let Ok(outputs) = task.plan(&job.args, &self.context)
        {
            for output in outputs {
                self.claims.entry(path_key(&output)).or_insert(job.id);
            }
        }
    }

    /// The job of `input` with its size, or the record that refuses it.
    pub(super) fn admit(&mut self, input: Input) -> Result<(Job, usize), Box<JobRecord>> {
        let job = match input {
            Input::Job(job) | Input::Alone(job) => job,
            Input::Done(job) => unreachable!("pull handles done job {}", job.id),
            Input::Invalid { id, task, args, error } => {
                return Err(Box::new(JobRecord::rejected(id, task, args, error)));
            }
        };
        if job.payload.len() > procmap_wire::MAX_PAYLOAD_BYTES {
            let error = format!(
                "the job's payload is {} bytes; at most {} are allowed",
                job.payload.len(),
                procmap_wire::MAX_PAYLOAD_BYTES
            );
            return Err(Box::new(JobRecord::rejected(job.id, job.task, job.args, error)));
        }
        let size = job_bytes(&job) - job.payload.len();
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
        Ok((job, size))
    }
}

fn path_key(path: &std::path::Path) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(path)
}
