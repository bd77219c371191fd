//! `--capture`: what becomes of each job's stdout and stderr, and the
//! default for the run's mode.

use procmap::Mode;
use procmap::wire::Capture;
use std::path::PathBuf;

/// Why a run cannot capture what it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "--capture {arg} needs each job in a process of its own: in {mode} jobs share one stdout and \
         stderr (use process mode with --threads 1, or --capture none)"
    )]
    Shared { arg: Capture, mode: &'static str },
    #[error("--capture files={}: cannot create the directory", dir.display())]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a run captures: `arg` as given, or by default the last 4 KiB of
/// each stream wherever jobs have streams of their own, else none. An
/// explicit capture where jobs share their streams is refused.
pub fn decide(
    arg: Option<&Capture>,
    mode: Mode,
    threads: usize,
    auto: bool,
) -> Result<Capture, CaptureError> {
    let impossible = procmap::capture_impossible(mode, threads, auto);
    match (arg, impossible) {
        (None, None) => Ok(Capture::Tail),
        (None, Some(_)) | (Some(Capture::None), _) => Ok(Capture::None),
        (Some(arg), None) => Ok(arg.clone()),
        (Some(arg), Some(mode)) => Err(CaptureError::Shared { arg: arg.clone(), mode }),
    }
}

/// The engine's setting for `arg`: for files, the directory is created
/// and named absolutely (workers of `--python` change their directory).
pub fn prepare(arg: Capture) -> Result<Capture, CaptureError> {
    let dir = match &arg {
        Capture::Files(dir) => Some(dir.clone()),
        _ => None,
    };
    procmap::prepare_capture(arg).map_err(|source| CaptureError::Dir { dir: dir.unwrap_or_default(), source })
}

/// A worker's stderr line on ours, under `--capture none`: marked with its
/// pid, control characters escaped.
pub fn forward(pid: u32, line: &str) {
    procmap_batch::say!("[worker {pid}] {}", procmap_batch::say::printable(line).replace('\n', "\\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_each_form() {
        for text in ["none", "tail", "files=out/logs"] {
            assert_eq!(text.parse::<Capture>().unwrap().to_string(), text);
        }
        assert!("files=".parse::<Capture>().is_err());
        assert!("all".parse::<Capture>().unwrap_err().contains("none, tail or files=DIR"));
    }

    #[test]
    fn the_default_is_tail_where_jobs_have_their_own_streams_else_none() {
        assert_eq!(decide(None, Mode::Process, 1, false).unwrap(), Capture::Tail);
        for (mode, threads) in [(Mode::Thread, 1), (Mode::Serial, 1), (Mode::Process, 4)] {
            assert_eq!(decide(None, mode, threads, false).unwrap(), Capture::None, "{mode:?} {threads}");
            assert_eq!(decide(Some(&Capture::None), mode, threads, false).unwrap(), Capture::None);
        }
    }

    #[test]
    fn an_explicit_capture_is_refused_where_jobs_share_streams_and_kept_elsewhere() {
        let files = Capture::Files("logs".into());
        assert_eq!(decide(Some(&files), Mode::Process, 1, false).unwrap(), files);
        assert_eq!(decide(Some(&Capture::None), Mode::Process, 1, false).unwrap(), Capture::None);
        let refused = decide(Some(&Capture::Tail), Mode::Thread, 1, false).unwrap_err().to_string();
        assert!(refused.contains("--capture tail") && refused.contains("thread mode"), "{refused}");
        let refused = decide(Some(&files), Mode::Process, 2, false).unwrap_err().to_string();
        assert!(refused.contains("files=logs") && refused.contains("hybrid"), "{refused}");
        // Issue 21: auto may grow a worker to several threads at any time.
        let refused = decide(Some(&Capture::Tail), Mode::Process, 1, true).unwrap_err().to_string();
        assert!(refused.contains("auto mode"), "{refused}");
        assert_eq!(decide(None, Mode::Process, 1, true).unwrap(), Capture::None, "auto's default");
    }
}
