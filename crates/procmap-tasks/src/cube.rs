use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::time::Duration;

/// `cube X [SLEEP_MS]`: X³ as a JSON integer, after sleeping SLEEP_MS.
pub struct Cube;

impl Cube {
    fn parse(&self, args: &[String]) -> Result<(i64, u64), JobError> {
        let (x, sleep) = match args {
            [x] => (x, None),
            [x, sleep] => (x, Some(sleep)),
            _ => return Err(JobError::usage(self, args)),
        };
        let x: i64 =
            x.trim().parse().map_err(|_| JobError::new(format!("X must be an integer, got {x:?}")))?;
        let sleep = match sleep {
            None => 0,
            Some(s) => s.trim().parse().map_err(|_| {
                JobError::new(format!("SLEEP_MS must be a whole number of milliseconds, got {s:?}"))
            })?,
        };
        Ok((x, sleep))
    }
}

impl Task for Cube {
    fn name(&self) -> &str {
        "cube"
    }
    fn usage(&self) -> &str {
        "X [SLEEP_MS]"
    }
    fn about(&self) -> &str {
        "X³ as an integer, optionally after sleeping SLEEP_MS (seed 003's cube)"
    }
    fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<std::path::PathBuf>, JobError> {
        self.parse(args).map(|_| Vec::new())
    }
    fn run(&self, args: &[String], _: &RunContext) -> Result<Value, JobError> {
        let (x, sleep) = self.parse(args)?;
        if sleep > 0 {
            std::thread::sleep(Duration::from_millis(sleep));
        }
        let cube = x
            .checked_mul(x)
            .and_then(|sq| sq.checked_mul(x))
            .ok_or_else(|| JobError::new(format!("{x}³ overflows a 64-bit integer")))?;
        Ok(json!(cube))
    }
}

/// `noop`: returns null; measures the pool's per-job overhead.
pub struct Noop;

impl Task for Noop {
    fn name(&self) -> &str {
        "noop"
    }
    fn usage(&self) -> &str {
        "[ANY...]"
    }
    fn about(&self) -> &str {
        "does nothing and returns null (ignores its arguments); measures overhead"
    }
    fn run(&self, _: &[String], _: &RunContext) -> Result<Value, JobError> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Value, JobError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Cube.run(&args, &RunContext::default())
    }

    #[test]
    fn cubes() {
        assert_eq!(run(&["7"]).unwrap(), json!(343));
        assert_eq!(run(&["-3"]).unwrap(), json!(-27));
        assert_eq!(run(&["2097151"]).unwrap(), json!(2097151_i64.pow(3)));
    }

    #[test]
    fn overflow_is_an_error() {
        let e = run(&["2097152"]).unwrap_err();
        assert!(e.message().contains("overflows"), "{e}");
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert!(run(&["x"]).unwrap_err().message().contains("X must be an integer"));
        assert!(run(&[]).unwrap_err().message().contains("cube takes `X [SLEEP_MS]`, got 0 arguments"));
        assert!(run(&["1", "2", "3"]).unwrap_err().message().contains("got 3 arguments"));
        assert!(run(&["1", "-5"]).unwrap_err().message().contains("SLEEP_MS"));
    }
}
