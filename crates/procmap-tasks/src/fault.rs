use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// `fault KIND [ARG]`: misbehaves on purpose, for tests and demos.
///
/// Each kind is the real thing, not a simulation: `segfault` writes to an
/// invalid address (a `raise(SIGSEGV)` would be caught by std's handler and
/// the process would exit 0), `oom` allocates and touches memory until an
/// allocation fails. The others are diagnostics: `print` writes to stdout,
/// `eprint` to stderr, `cprint` through C's buffered `printf` (no newline:
/// it stays in C's buffer until flushed), `spew` N bytes to each (to test that capture keeps
/// only their end), `segfault TEXT` prints TEXT before it faults, and
/// `overlap` reports how many of its jobs ran at once in its process.
/// `daemon` leaves `sleep SECONDS` running in a session of its own, out of
/// its worker's process group, as `start_new_session=True` does.
pub struct Fault;

const KINDS: &str = "panic, abort, segfault [TEXT], exit CODE, hang, oom, slow MS, spin MS, print TEXT, eprint TEXT, cprint TEXT, spew BYTES, overlap MS, daemon SECONDS";

enum Kind {
    Panic,
    Abort,
    /// After printing its text, if any, on stdout.
    Segfault(Option<String>),
    Exit(i32),
    Hang,
    Oom,
    Slow(u64),
    Spin(u64),
    Print(String),
    Eprint(String),
    Cprint(String),
    Spew(u64),
    Overlap(u64),
    Daemon(u64),
}

/// Jobs of `fault overlap` running now in this process, and the most ever.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Fault {
    fn parse(&self, args: &[String]) -> Result<Kind, JobError> {
        let number = |what: &str, s: &String| {
            s.parse::<u64>()
                .map_err(|_| JobError::new(format!("fault {what} takes a whole number, got {s:?}")))
        };
        match args {
            [k] if k == "panic" => Ok(Kind::Panic),
            [k] if k == "abort" => Ok(Kind::Abort),
            [k] if k == "segfault" => Ok(Kind::Segfault(None)),
            [k, text] if k == "segfault" => Ok(Kind::Segfault(Some(text.clone()))),
            [k] if k == "hang" => Ok(Kind::Hang),
            [k] if k == "oom" => Ok(Kind::Oom),
            [k, code] if k == "exit" => {
                let code = code
                    .parse::<i32>()
                    .map_err(|_| JobError::new(format!("fault exit takes an exit code, got {code:?}")))?;
                Ok(Kind::Exit(code))
            }
            [k, ms] if k == "slow" => Ok(Kind::Slow(number("slow", ms)?)),
            [k, ms] if k == "spin" => Ok(Kind::Spin(number("spin", ms)?)),
            [k, ms] if k == "overlap" => Ok(Kind::Overlap(number("overlap", ms)?)),
            [k, text] if k == "print" => Ok(Kind::Print(text.clone())),
            [k, text] if k == "eprint" => Ok(Kind::Eprint(text.clone())),
            [k, text] if k == "cprint" => Ok(Kind::Cprint(text.clone())),
            [k, n] if k == "spew" => Ok(Kind::Spew(number("spew", n)?)),
            [k, secs] if k == "daemon" => Ok(Kind::Daemon(number("daemon", secs)?)),
            [k, ..] => Err(JobError::new(format!("unknown fault {k:?} or wrong arguments; kinds: {KINDS}"))),
            [] => Err(JobError::usage(self, args)),
        }
    }
}

impl Task for Fault {
    fn name(&self) -> &str {
        "fault"
    }
    fn usage(&self) -> &str {
        "panic|abort|segfault [TEXT]|exit CODE|hang|oom|slow MS|spin MS|print TEXT|eprint TEXT|cprint TEXT|spew BYTES|overlap MS|daemon SECONDS"
    }
    fn about(&self) -> &str {
        "misbehaves on purpose (real crashes) to test crash isolation"
    }
    fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<std::path::PathBuf>, JobError> {
        self.parse(args).map(|_| Vec::new())
    }
    fn run(&self, args: &[String], _: &RunContext) -> Result<Value, JobError> {
        match self.parse(args)? {
            Kind::Panic => panic!("fault injected: panic"),
            Kind::Abort => std::process::abort(),
            Kind::Segfault(text) => {
                if let Some(text) = text {
                    let _ = writeln!(std::io::stdout(), "{text}");
                }
                // SAFETY: none; this is the point. Address 16 is never mapped
                // on Linux, so the write faults with SIGSEGV.
                unsafe { std::ptr::write_volatile(std::ptr::without_provenance_mut::<u64>(16), 1) };
                Err(JobError::new("the invalid write did not fault"))
            }
            Kind::Exit(code) => std::process::exit(code),
            Kind::Hang => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Kind::Oom => exhaust_memory(),
            Kind::Slow(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(json!(ms))
            }
            Kind::Spin(ms) => {
                // Busy for MS ms of wall time: a CPU-bound job (`slow` is
                // one that waits), for `--mode auto` to tell apart.
                let until = std::time::Instant::now() + Duration::from_millis(ms);
                let mut turns = 0u64;
                while std::time::Instant::now() < until {
                    turns = std::hint::black_box(turns + 1);
                }
                Ok(json!(ms))
            }
            Kind::Print(text) => {
                // Raw, then as a line: whatever a task prints must never
                // reach the journal, which may be the supervisor's stdout.
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "{text}");
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
                Ok(json!("printed"))
            }
            Kind::Eprint(text) => {
                let _ = writeln!(std::io::stderr(), "{text}");
                Ok(json!("printed"))
            }
            Kind::Cprint(text) => {
                let text = std::ffi::CString::new(text).map_err(|_| JobError::new("a NUL in the text"))?;
                // SAFETY: a NUL-terminated format and argument.
                unsafe { libc::printf(c"%s".as_ptr(), text.as_ptr()) };
                Ok(json!("printed"))
            }
            Kind::Spew(bytes) => {
                // Lines of 64 bytes on each stream, then a last line that
                // says which stream it is: the end a tail must keep.
                let line = [b"x".repeat(63), b"\n".to_vec()].concat();
                for (mut stream, name) in [
                    (Box::new(std::io::stdout().lock()) as Box<dyn std::io::Write>, "stdout"),
                    (Box::new(std::io::stderr().lock()), "stderr"),
                ] {
                    for _ in 0..bytes / 64 {
                        let _ = stream.write_all(&line);
                    }
                    let _ = writeln!(stream, "end of {name}");
                    let _ = stream.flush();
                }
                // Its peak memory, so that a test can see that output
                // beyond the captured tail costs none.
                Ok(json!({ "bytes": bytes, "peak_rss_kb": peak_rss_kb() }))
            }
            Kind::Overlap(ms) => {
                // Measures concurrency instead of time: the most jobs of
                // this kind that ran at once in this process.
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                PEAK.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({ "peak": PEAK.load(Ordering::SeqCst), "pid": std::process::id() }))
            }
            Kind::Daemon(secs) => {
                use std::os::unix::process::CommandExt as _;
                let mut sleep = std::process::Command::new("sleep");
                sleep.arg(secs.to_string()).stdin(std::process::Stdio::null());
                // SAFETY: setsid is async-signal-safe.
                unsafe {
                    sleep.pre_exec(|| {
                        if libc::setsid() < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                // Never waited for: left behind on purpose.
                let child = sleep.spawn().map_err(|e| JobError::new(format!("cannot start sleep: {e}")))?;
                Ok(json!({ "daemon": child.id() }))
            }
        }
    }
}

/// This process's peak resident memory (`VmHWM`), in KiB; 0 if unknown.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap_or("");
    line.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
}

/// Allocates and touches 64 MiB blocks until an allocation fails, which
/// aborts the process. Refuses to run without a memory limit: on a machine
/// without one it would take all memory and invite the kernel's OOM killer
/// to pick any process.
fn exhaust_memory() -> Result<Value, JobError> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY {
        return Err(JobError::new(
            "fault oom needs a memory limit (--mem-limit); refusing to exhaust the machine",
        ));
    }
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = Vec::<u8>::with_capacity(64 << 20);
        block.resize(64 << 20, 1);
        hoard.push(block);
        std::hint::black_box(&hoard);
    }
}
