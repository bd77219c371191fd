//! `--python FILE`: the `@procmap.task` functions of a Python file as the
//! workers' tasks. Each worker is `PYTHON -m procmap._worker --tasks FILE`,
//! served by the procmap Python package (`pip install ./python`), which
//! speaks the same protocol through the same engine.

use anyhow::{Context as _, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The interpreter, from `PROCMAP_PYTHON` or else `python3` on `PATH` (the
/// active virtualenv's, if one is active).
const PYTHON_ENV: &str = "PROCMAP_PYTHON";

/// The worker program and its arguments for the tasks of `file`.
pub fn worker_for(file: &Path) -> anyhow::Result<(PathBuf, Vec<OsString>)> {
    if !file.is_file() {
        bail!("--python {}: no such file", file.display());
    }
    let file = std::path::absolute(file).with_context(|| format!("--python {}", file.display()))?;
    let python = std::env::var_os(PYTHON_ENV).map(PathBuf::from).unwrap_or_else(|| "python3".into());
    let program = crate::worker::resolve_program(&python).with_context(|| {
        format!("no Python interpreter for --python: set {PYTHON_ENV}, or activate the virtualenv that has procmap")
    })?;
    let args = ["-m", "procmap._worker", "--tasks"].into_iter().map(OsString::from);
    Ok((program, args.chain([file.into_os_string()]).collect()))
}
