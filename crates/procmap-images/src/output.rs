//! Where a task's output goes, and how it gets there.
//!
//! Outputs are confined to the run's output directory unless the run allows
//! otherwise, because job lines may come from anywhere and a line such as
//! `gray a.png ../../etc/x.png` must not be able to write outside it.
//! Files are written to a temporary name in the target directory and renamed
//! into place, so a worker killed mid-write never leaves a half-written image
//! under the final name.

use procmap::{JobError, RunContext};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The format of an output file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// `.png`
    Png,
    /// `.tif` or `.tiff`
    Tiff,
}

impl OutFormat {
    fn of(name: &std::ffi::OsStr) -> Option<OutFormat> {
        let ext = Path::new(name).extension()?;
        if ext.eq_ignore_ascii_case("png") {
            Some(OutFormat::Png)
        } else if ext.eq_ignore_ascii_case("tif") || ext.eq_ignore_ascii_case("tiff") {
            Some(OutFormat::Tiff)
        } else {
            None
        }
    }
}

/// The output path of a job, which must end in `.png`: `explicit` if given
/// (relative paths are taken relative to the output directory), else
/// `<out_dir>/<input stem>.png`.
///
/// The result is absolute, free of `.` and `..`, and has the symlinks of its
/// existing ancestors resolved, so that two spellings of one file give the
/// same `PathBuf` (the supervisor compares them to refuse two jobs writing
/// the same file). The file itself is not resolved: the final rename
/// replaces a symlink rather than writing through it.
pub fn resolve(explicit: Option<&str>, input: &str, ctx: &RunContext) -> Result<PathBuf, JobError> {
    resolve_as(explicit, input, ctx, false).map(|(path, _)| path)
}

/// [`resolve`] for an output that may also be a TIFF: the path and the
/// format its extension (`.png`, `.tif` or `.tiff`) asks for.
pub fn resolve_image(
    explicit: Option<&str>,
    input: &str,
    ctx: &RunContext,
) -> Result<(PathBuf, OutFormat), JobError> {
    resolve_as(explicit, input, ctx, true)
}

fn resolve_as(
    explicit: Option<&str>,
    input: &str,
    ctx: &RunContext,
    tiff: bool,
) -> Result<(PathBuf, OutFormat), JobError> {
    let base = out_dir(ctx)?;
    let candidate = match explicit {
        Some("") => return Err(JobError::new("output path is empty")),
        Some(o) => base.join(o),
        None => {
            let stem = Path::new(input)
                .file_stem()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| JobError::new(format!("cannot derive an output name from input {input:?}")))?;
            let mut name = OsString::from(stem);
            name.push(".png");
            base.join(name)
        }
    };
    let shown = explicit.map_or_else(|| candidate.display().to_string(), str::to_owned);
    let normal = normalize(&candidate);
    let (Some(parent), Some(name)) = (normal.parent(), normal.file_name()) else {
        return Err(JobError::new(format!("output {shown:?} does not name a file")));
    };
    if explicit.is_some_and(|o| o.ends_with('/') || o.ends_with("/.") || o.ends_with("/..")) {
        return Err(JobError::new(format!("output {shown:?} does not name a file")));
    }
    let format = match OutFormat::of(name) {
        Some(OutFormat::Tiff) if tiff => OutFormat::Tiff,
        Some(OutFormat::Png) => OutFormat::Png,
        _ if tiff => {
            return Err(JobError::new(format!(
                "output {shown:?} must end in .png or .tif/.tiff (the extension chooses the format)"
            )));
        }
        _ => {
            return Err(JobError::new(format!(
                "output {shown:?} must end in .png (outputs are written as png)"
            )));
        }
    };
    let root = resolve_root(&base);
    // The common case, a file directly in the output directory, needs no
    // further resolving (canonicalize costs a readlink per component).
    let resolved = if parent == base { root.join(name) } else { resolve_existing(parent).join(name) };
    if !ctx.allow_outside && !resolved.starts_with(&root) {
        return Err(JobError::new(format!(
            "output {shown:?} is outside the output directory {} (allow it with --allow-outside)",
            root.display()
        )));
    }
    Ok((resolved, format))
}

/// The output directory as an absolute, normalised path; an empty
/// `out_dir` means the current directory.
fn out_dir(ctx: &RunContext) -> Result<PathBuf, JobError> {
    let cwd =
        || std::env::current_dir().map_err(|e| JobError::new(format!("cannot read current directory: {e}")));
    let dir = if ctx.out_dir.as_os_str().is_empty() {
        cwd()?
    } else if ctx.out_dir.is_absolute() {
        ctx.out_dir.clone()
    } else {
        cwd()?.join(&ctx.out_dir)
    };
    Ok(normalize(&dir))
}

/// Removes `.` and resolves `..` lexically. `..` at the root stays at the
/// root, as the kernel does.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // pop() is false only at the root (or an empty relative path).
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// [`resolve_existing`] for the output directory, remembered per thread:
/// every job of a run asks for the same directory. The directory is
/// re-resolved if it did not exist when last asked (it is created by the
/// first write).
fn resolve_root(base: &Path) -> PathBuf {
    thread_local! {
        static ROOT: std::cell::RefCell<Option<(PathBuf, PathBuf)>> = const { std::cell::RefCell::new(None) };
    }
    ROOT.with_borrow_mut(|cache| {
        if let Some((b, r)) = cache.as_ref()
            && b == base
        {
            return r.clone();
        }
        let resolved = resolve_existing(base);
        if base.exists() {
            *cache = Some((base.to_path_buf(), resolved.clone()));
        }
        resolved
    })
}

/// Canonicalises the longest existing ancestor of `path` (resolving
/// symlinks) and appends the components that do not exist yet.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = fs::canonicalize(existing) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, then a rename. Creates missing parent directories.
///
/// There is no fsync: the goal is that a killed worker leaves either the old
/// file or the new one, not durability across a power cut, and an fsync per
/// 64×64 tile would cost more than everything else in the job.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JobError> {
    let fail = |what: &str, e: io::Error| JobError::new(format!("cannot {what} {}: {e}", path.display()));
    let dir =
        path.parent().ok_or_else(|| JobError::new(format!("output {} has no directory", path.display())))?;
    // Try first, create the directory only if missing: saves two syscalls a
    // job when it exists, which is every job but the first.
    let (tmp_path, mut file) = match create_temp(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| fail("create the directory for", e))?;
            create_temp(path)
        }
        other => other,
    }
    .map_err(|e| fail("create a temporary file for", e))?;
    let guard = RemoveOnDrop(&tmp_path);
    file.write_all(bytes).map_err(|e| fail("write", e))?;
    drop(file);
    // rename() onto a directory fails, so an existing directory of that
    // name is reported here rather than checked for beforehand.
    fs::rename(&tmp_path, path).map_err(|e| fail("replace", e))?;
    std::mem::forget(guard);
    Ok(())
}

/// Creates `.<name>.<pid>.<n>.tmp` next to `path`. The pid and a process-wide
/// counter make the name unique among workers and threads; `create_new`
/// guards against leftovers of a killed process that had the same pid.
fn create_temp(path: &Path) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.0);
    }
}

/// Refuses to let a job replace its own input (e.g. `gray a.png` with the
/// output directory holding `a.png`). Compares file identities, which is
/// cheaper than canonicalising both paths and sees through hard links.
pub fn check_not_input(input: &Path, output: &Path) -> Result<(), JobError> {
    let Ok(out) = fs::metadata(output) else { return Ok(()) };
    let Ok(inp) = fs::metadata(input) else { return Ok(()) };
    if same_file(&inp, &out) {
        return Err(JobError::new(format!("output {} would overwrite the input", output.display())));
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    false // procmap runs on unix; elsewhere this check is skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path, allow_outside: bool) -> RunContext {
        RunContext { out_dir: dir.to_path_buf(), allow_outside }
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalize(Path::new("a/../../x")), PathBuf::from("../x"));
    }

    #[test]
    fn default_output_is_stem_in_out_dir() {
        let dir = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(dir.path()).unwrap();
        let p = resolve(None, "data/Forest/Forest_7.tif", &ctx(dir.path(), false)).unwrap();
        assert_eq!(p, real.join("Forest_7.png"));
        let q = resolve(Some("sub/../Forest_7.png"), "x.tif", &ctx(dir.path(), false)).unwrap();
        assert_eq!(p, q, "two spellings of one file give one path");
    }

    #[test]
    fn escapes_are_rejected_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let e = resolve(Some("../../x.png"), "a.tif", &ctx(&out, false)).unwrap_err();
        assert!(e.message().contains("outside the output directory"), "{e}");
        let e = resolve(Some("/tmp/x.png"), "a.tif", &ctx(&out, false)).unwrap_err();
        assert!(e.message().contains("outside the output directory"), "{e}");
        assert!(resolve(Some("../../x.png"), "a.tif", &ctx(&out, true)).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_directory_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(&out).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("link")).unwrap();
        let e = resolve(Some("link/x.png"), "a.tif", &ctx(&out, false)).unwrap_err();
        assert!(e.message().contains("outside"), "{e}");
    }

    #[test]
    fn bad_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(dir.path(), false);
        assert!(resolve(Some("x.jpg"), "a.tif", &c).unwrap_err().message().contains("must end in .png"));
        assert!(resolve(Some("sub/"), "a.tif", &c).unwrap_err().message().contains("does not name a file"));
        assert!(resolve(Some(""), "a.tif", &c).is_err());
        // gray and eurosat-rgb write PNG only; resize's --save also TIFF.
        assert!(resolve(Some("x.tif"), "a.tif", &c).unwrap_err().message().contains("must end in .png"));
        let e = resolve_image(Some("x.jpg"), "a.tif", &c).unwrap_err();
        assert!(e.message().contains(".png or .tif"), "{e}");
        assert!(
            resolve_image(Some("sub/"), "a.tif", &c).unwrap_err().message().contains("does not name a file")
        );
    }

    #[test]
    fn the_extension_chooses_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(dir.path(), false);
        let real = fs::canonicalize(dir.path()).unwrap();
        for (name, format) in [
            ("a.png", OutFormat::Png),
            ("a.PNG", OutFormat::Png),
            ("a.tif", OutFormat::Tiff),
            ("b/a.TIFF", OutFormat::Tiff),
        ] {
            assert_eq!(resolve_image(Some(name), "x.png", &c).unwrap(), (real.join(name), format), "{name}");
        }
        assert!(resolve_image(Some("a.tif.gz"), "x.png", &c).is_err());
        assert!(resolve_image(Some("tif"), "x.png", &c).is_err());
        let e = resolve_image(Some("../a.tif"), "x.png", &c).unwrap_err();
        assert!(e.message().contains("outside the output directory"), "{e}");
    }

    #[test]
    fn atomic_write_creates_parents_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.png");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> =
            fs::read_dir(dir.path().join("a/b")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![OsString::from("c.png")]);
    }
}
