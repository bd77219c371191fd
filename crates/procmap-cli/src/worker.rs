//! Which worker program runs, found the way the shell would find it, and
//! what to say when it cannot start.

use anyhow::bail;
use procmap::PoolError;
use std::path::{Path, PathBuf};

/// The worker program, resolved once: a bare name is looked up the way the
/// shell would (in `PATH`), a relative path made absolute, so that what is
/// checked here is exactly what runs.
pub fn resolve_worker(worker: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let Some(program) = worker else {
        let program = procmap::default_worker_program();
        if !program.is_file() {
            bail!(
                "worker program {} not found: build it with `cargo build --release --bins`, or name it with --worker PATH",
                program.display()
            );
        }
        return Ok(program);
    };
    resolve_program(&program)
}

/// Finds `program` as the shell would: a bare name in `PATH`, a path as
/// given (made absolute).
pub fn resolve_program(program: &Path) -> anyhow::Result<PathBuf> {
    let program = program.to_path_buf();
    let bare = !program.as_os_str().as_encoded_bytes().contains(&b'/');
    let found = if bare {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join(&program))
            .find(|candidate| is_executable(candidate))
    } else {
        Some(std::path::absolute(&program).unwrap_or_else(|_| program.clone())).filter(|p| p.is_file())
    };
    match found {
        Some(path) if is_executable(&path) => Ok(path),
        Some(path) => bail!("worker program {} is not executable", path.display()),
        None if bare => bail!(
            "worker program {} not found in PATH: to run a file in this directory, write ./{}",
            program.display(),
            program.display()
        ),
        None => bail!(
            "worker program {} not found: build it with `cargo build --release --bins`, or name another with --worker PATH",
            program.display()
        ),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A pool error, with the end of the worker's stderr when it could not
/// start: that is where the reason is.
pub fn explain_pool_error(e: PoolError) -> anyhow::Error {
    match &e {
        PoolError::WorkerStart { stderr, .. } if !stderr.is_empty() => {
            let stderr = procmap_batch::say::printable(stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            // The error and its cause on one line, as `{:#}` prints them,
            // then the stderr that explains them.
            let chain = format!("{:#}", anyhow::Error::new(e));
            anyhow::anyhow!("{chain}\n  worker stderr:\n    {}", tail.join("\n    "))
        }
        _ => anyhow::Error::new(e),
    }
}
