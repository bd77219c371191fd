//! A worker binary with a task of its own, next to the built-in ones.
//!
//! Build it and run jobs on it with `--worker`:
//!
//! ```text
//! cargo build --release --example custom-worker
//! printf 'shout hello\nshout "good bye"\ncube 3\n' |
//!     supervisor --worker target/release/examples/custom-worker -
//! ```

use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};

/// `shout TEXT...`: the words, upper-cased and joined, with their count.
struct Shout;

impl Task for Shout {
    fn name(&self) -> &str {
        "shout"
    }
    fn usage(&self) -> &str {
        "TEXT..."
    }
    fn about(&self) -> &str {
        "upper-cases its arguments (an example of a custom task)"
    }
    fn run(&self, args: &[String], _: &RunContext) -> Result<Value, JobError> {
        if args.is_empty() {
            return Err(JobError::usage(self, args));
        }
        let text = args.join(" ").to_uppercase();
        Ok(json!({ "text": text, "words": args.len() }))
    }
}

fn main() -> std::process::ExitCode {
    let mut registry = procmap_tasks::builtin();
    registry.register(Shout);
    procmap::worker::main(registry)
}
