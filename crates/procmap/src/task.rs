//! The [`Task`] trait and the [`Registry`] that maps names to tasks.

use procmap_wire::{RunContext, TaskInfo};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A named operation that a worker can run on a list of string arguments.
///
/// Implementations must be cheap to share between threads: thread mode runs
/// one instance on every thread. A task reports bad input by returning a
/// [`JobError`]; it may also panic, which the runtime catches and records as
/// an error for that job alone.
///
/// ```
/// use procmap::{JobError, Task};
/// use procmap_wire::RunContext;
///
/// struct Double;
/// impl Task for Double {
///     fn name(&self) -> &str { "double" }
///     fn usage(&self) -> &str { "X" }
///     fn about(&self) -> &str { "twice X, as an integer" }
///     fn run(&self, args: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> {
///         let [x] = args else { return Err(JobError::usage(self, args)) };
///         let x: i64 = x.parse().map_err(|e| JobError::new(format!("X={x:?}: {e}")))?;
///         Ok(serde_json::json!(x * 2))
///     }
/// }
/// assert_eq!(Double.run(&["21".into()], &RunContext::default()).unwrap(), 42);
/// ```
pub trait Task: Send + Sync + 'static {
    /// The name used in job lines, e.g. `cube`.
    fn name(&self) -> &str;
    /// The argument form, e.g. `X [SLEEP_MS]`.
    fn usage(&self) -> &str;
    /// One line of help.
    fn about(&self) -> &str;

    /// Checks a job's arguments before it is dispatched and names the files
    /// it will write, so that the supervisor can reject a bad line at once
    /// and refuse a second job that would overwrite the first one's output.
    /// The default accepts anything and writes nothing.
    fn plan(&self, args: &[String], ctx: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        let _ = (args, ctx);
        Ok(Vec::new())
    }

    /// Runs one job.
    fn run(&self, args: &[String], ctx: &RunContext) -> Result<serde_json::Value, JobError>;

    /// Runs one job that carries a payload (`Job::payload`) and returns
    /// opaque bytes, which reach the caller as [`crate::JobRecord::output`]
    /// without being read as JSON. Python's pool uses this to send a chunk
    /// of pickled items as one job. The default refuses payloads.
    fn run_payload(&self, payload: &[u8], args: &[String], ctx: &RunContext) -> Result<Vec<u8>, JobError> {
        let _ = (args, ctx);
        Err(JobError::new(format!("task {:?} takes no payload ({} bytes given)", self.name(), payload.len())))
    }

    /// Whether the task captures the output of each of its own items
    /// (through [`crate::worker::capture::current`]), as Python's pool's
    /// chunks do: the worker then leaves its jobs' output alone.
    fn captures_output(&self) -> bool {
        false
    }
}

/// A job's failure, as the message that ends up in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
}

impl JobError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// The error for a call with the wrong arguments: says what was given
    /// and what the task expects.
    pub fn usage(task: &(impl Task + ?Sized), args: &[String]) -> Self {
        Self::new(format!(
            "{} takes `{}`, got {} argument{}",
            task.name(),
            task.usage(),
            args.len(),
            if args.len() == 1 { "" } else { "s" }
        ))
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for JobError {
    fn from(e: std::io::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// The tasks a worker can run, by name.
///
/// ```
/// # use procmap::{Registry, Task, JobError};
/// # use procmap_wire::RunContext;
/// # struct Noop;
/// # impl Task for Noop {
/// #     fn name(&self) -> &str { "noop" }
/// #     fn usage(&self) -> &str { "" }
/// #     fn about(&self) -> &str { "nothing" }
/// #     fn run(&self, _: &[String], _: &RunContext) -> Result<serde_json::Value, JobError> { Ok(serde_json::Value::Null) }
/// # }
/// let mut registry = Registry::new();
/// registry.register(Noop);
/// assert!(registry.get("noop").is_some());
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    tasks: BTreeMap<String, Arc<dyn Task>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a task, replacing any task of the same name.
    pub fn register(&mut self, task: impl Task) -> &mut Self {
        self.tasks.insert(task.name().to_owned(), Arc::new(task));
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Task>> {
        self.tasks.get(name)
    }

    /// Whether some task captures its own items' output
    /// ([`Task::captures_output`]).
    pub(crate) fn some_capture_output(&self) -> bool {
        self.tasks.values().any(|t| t.captures_output())
    }

    /// Every task's name and help, sorted by name.
    pub fn infos(&self) -> Vec<TaskInfo> {
        self.tasks
            .values()
            .map(|t| TaskInfo {
                name: t.name().to_owned(),
                usage: t.usage().to_owned(),
                about: t.about().to_owned(),
            })
            .collect()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tasks.keys()).finish()
    }
}

/// The name prefix of the temporary files in which a worker process `pid`
/// writes `output` before renaming it into place:
/// `.<file name>.<pid>.<n>.tmp`, next to `output`. Tasks that write files
/// should use it: when a worker dies mid-write, the supervisor removes the
/// temporary files of the jobs it had in flight by this name.
pub fn temp_file_prefix(output: &std::path::Path, pid: u32) -> Option<std::ffi::OsString> {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(output.file_name()?);
    prefix.push(format!(".{pid}."));
    Some(prefix)
}

/// Removes the temporary files that worker `pid` may have left for
/// `output` (see [`temp_file_prefix`]). Returns how many it removed.
pub(crate) fn remove_temp_files(output: &std::path::Path, pid: u32) -> usize {
    let (Some(prefix), Some(dir)) = (temp_file_prefix(output, pid), output.parent()) else { return 0 };
    let dir = if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let prefix = prefix.as_encoded_bytes();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        if name.starts_with(prefix) && name.ends_with(b".tmp") && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
