#!/usr/bin/env python3
"""bench-spine.py: the supervisor's memory and per-job CPU targets, side by side.

Measures one supervisor build (--bin) and optionally another build of the
same program (--baseline), interleaved run by run (A B, then B A, ...):

  rss      peak RSS (GNU time %M) of `supervisor -q -t cube -o J FILE` on a
           small and a big jobs file (300k / 3M lines), process and serial
           mode, for a file of repeated lines (i % MODULUS) and one of
           distinct lines; targets: big <= 32 MB, big/small <= 1.3x.
  resume   peak RSS of `--resume` against a journal that already holds every
           one of 10M distinct jobs (nothing runs), and one holding the first
           half (the second half runs); (peak - fresh-run peak) / old records,
           target <= 24 bytes per old record.
  cpu      CPU (user + sys of the supervisor and every worker it reaped) per
           job and wall time for 1M cube jobs, journal on tmpfs: serial
           (target <= 0.6 us), process -c 64 (<= 1.2 us), process -c auto.

Each value is the median [min-max] over --reps runs; ratios and bytes per
record are computed per repetition, then summarised. A MISS still exits 0.
MB here is MiB (GNU time's %M kilobytes / 1024), as in scripts/bench.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"
BLOCK = 2_000_000  # cube X fits an i64 for |X| < 2^21: distinct lines beyond it get leading zeros


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(ROOT / "target/release/supervisor"), help="candidate supervisor (default: %(default)s)")
    p.add_argument("--baseline", help="another build of the supervisor, measured alongside")
    p.add_argument("--reps", type=int, help="runs per measurement (default 5; 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="rss on 30k/300k lines, resume on 1M: a smoke run (cpu stays 1M)")
    p.add_argument("--only", default="rss,resume,cpu", help="comma-separated groups: rss, resume, cpu (default: all)")
    p.add_argument("--lines", default="repeated,distinct", help="jobs files for the rss group: repeated (i %% MODULUS), distinct (default: both)")
    p.add_argument("--modulus", type=int, default=1000, help="the repeated file's lines are i %% MODULUS (default 1000)")
    p.add_argument("--procs", type=int, help="pass -p N (default: the supervisor's own default)")
    p.add_argument("--scratch", default="/dev/shm/procmap-bench", help="data and journals (default: %(default)s, tmpfs)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory; a later run reuses its data files")
    p.add_argument("-v", "--verbose", action="store_true", help="print every run")
    a = p.parse_args()
    a.reps = a.reps or (3 if a.quick else 5)
    a.only, a.lines = set(a.only.split(",")), a.lines.split(",")
    if a.only - {"rss", "resume", "cpu"} or set(a.lines) - {"repeated", "distinct"} or a.reps < 1:
        p.error("bad --only, --lines or --reps")
    return a


# ------------------------------------------------------------------ data
def arg_of(i, kind, modulus):
    return str(i % modulus) if kind == "repeated" else "0" * (i // BLOCK) + str(i % BLOCK)


# A journal's first line (format 2); builds before it read it as one
# unreadable line and go on.
HEADER = '{"journal":2,"writer":"bench-spine","started_unix":0,"host":"bench","pid":1}\n'


def record(line, a, worker=1):
    return f'{{"line":{line},"task":"cube","args":["{a}"],"status":"ok","value":{int(a) ** 3},"attempts":1,"worker":{worker},"ms":0.001}}\n'


def generate(path, n, kind, modulus, journals=()):
    """Writes the jobs file and, for each (journal path, records), a journal
    whose ok records cover the first `records` lines. Cached: a finished
    file has a `.done` marker beside it."""
    marker = path.with_suffix(".done")
    if marker.exists():
        return path
    t0 = time.perf_counter()
    outs = [(open(p, "w"), k) for p, k in journals]
    for f, _ in outs:
        f.write(HEADER)
    with open(path, "w") as jobs:
        for start in range(0, n, 100_000):
            args = [arg_of(i, kind, modulus) for i in range(start, min(n, start + 100_000))]
            jobs.write("\n".join(args) + "\n")
            for f, k in outs:
                f.write("".join(record(start + j + 1, a) for j, a in enumerate(args) if start + j < k))
    for f, _ in outs:
        f.close()
    marker.touch()
    if n >= 10_000:
        print(f"  generated {path.name} ({n:,} lines{', + journals' if journals else ''}) in {time.perf_counter() - t0:.1f}s")
    return path


def count_lines(path, offset=0):
    """Records (lines but headers) and ok records from `offset` on."""
    lines = ok = 0
    rest = b""
    with open(path, "rb") as f:
        f.seek(offset)
        while chunk := f.read(1 << 24):
            buf = rest + chunk
            cut = buf.rfind(b"\n") + 1  # whole lines only, so that no match straddles two reads
            lines += buf.count(b"\n") - buf.count(b'{"journal":', 0, cut)
            ok += buf.count(b'"status":"ok"', 0, cut)
            rest = buf[cut:]
    return lines, ok + rest.count(b'"status":"ok"')


# ------------------------------------------------------------------ runs
ENV = {k: v for k, v in os.environ.items() if k != "PROCMAP_WORKER"}  # each build finds its own worker


def run(argv, scratch, verbose):
    """Runs argv under GNU time; returns wall s, CPU s (user + sys, reaped children included), peak RSS KiB."""
    tf = scratch / "time.txt"
    t0 = time.perf_counter()
    p = subprocess.run([TIME, "-o", str(tf), "-f", "%e %U %S %M", *argv], env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(argv)}\n{p.stderr.decode(errors='replace')[-2000:]}")
    _, u, s, m = tf.read_text().split()[-4:]
    r = {"wall": wall, "cpu": float(u) + float(s), "rss": int(m)}
    if verbose:
        print(f"    wall {wall:.3f}s cpu {r['cpu']:.2f}s peak {r['rss'] / 1024:.1f} MB: {' '.join(argv)}")
    return r


def check_journal_shape(sup, scratch):
    """Our generated journal must look like the supervisor's own, and --resume
    against it must skip exactly the jobs it holds."""
    d = scratch / f"shape-{sup.parent.name}"
    d.mkdir(exist_ok=True)
    n, half = 2_000, 1_000
    jobs = d / "jobs.txt"
    full, part = d / "full.jsonl", d / "half.jsonl"
    generate(jobs, n, "distinct", 0, [(full, n), (part, half)])
    subprocess.run([str(sup), "-q", "-t", "cube", "--overwrite", "-o", str(d / "real.jsonl"), str(jobs)], env=ENV, check=True)
    records = lambda p: [r for r in map(json.loads, open(p)) if "journal" not in r]
    strip = lambda p: sorted(({k: v for k, v in r.items() if k not in ("worker", "ms", "start")} for r in records(p)), key=lambda r: r["line"])
    assert strip(d / "real.jsonl") == strip(full), f"{sup}: the generated journal differs from a real one"
    for src, want in ((full, 0), (part, n - half)):
        j = d / "j.jsonl"
        shutil.copy(src, j)
        size = j.stat().st_size
        subprocess.run([str(sup), "-q", "--resume", "-t", "cube", "-o", str(j), str(jobs)], env=ENV, check=True)
        new = [r["line"] for r in map(json.loads, open(j, "rb").read()[size:].splitlines()) if "journal" not in r]
        assert sorted(new) == list(range(n - want + 1, n + 1)), f"{sup} --resume on {src.name}: {len(new)} new records, expected {want}"


# ------------------------------------------------------------------ summary
def summary(xs, fmt):
    """`median [min–max] unit`: fmt turns a number into (text, unit)."""
    (med, unit), lo, hi = fmt(statistics.median(xs)), fmt(min(xs))[0], fmt(max(xs))[0]
    return f"{med} [{lo}–{hi}] {unit}" if len(xs) > 1 else f"{med} {unit}"


def main():
    a = parse_args()
    scratch = Path(a.scratch)
    if scratch.exists() and any(scratch.iterdir()) and not (scratch / ".bench-spine").exists():
        sys.exit(f"{scratch} is not empty and not bench-spine's scratch: choose another --scratch")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / ".bench-spine").touch()  # so that removing it at exit removes only our files
    if not os.access(TIME, os.X_OK):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run("apt-get install -y -qq time || (apt-get update -qq && apt-get install -y -qq time)", shell=True)
        if not os.access(TIME, os.X_OK):
            sys.exit(f"{TIME} (GNU time, Debian package `time`) is missing")
    # Snapshot the binaries (with their workers): a rebuild mid-run would otherwise change what is measured.
    bins = {}
    for name, path in (("cand", a.bin), ("base", a.baseline)):
        if not path:
            continue
        src = Path(path).resolve()
        dst = scratch / f"bin-{name}"
        dst.mkdir(exist_ok=True)
        for exe in ("supervisor", "supervisor-worker"):
            if not (src.parent / exe).exists():
                sys.exit(f"{src.parent / exe} is missing")
            shutil.copy2(src.parent / exe, dst / exe)
        bins[name] = (dst / "supervisor", src)
    k = 10 if a.quick else 1  # cpu keeps 1M: GNU time counts CPU in 10 ms steps, 0.01 µs per job at 1M
    small, big, n_resume, n_cpu = 300_000 // k, 3_000_000 // k, 10_000_000 // k, 1_000_000
    mb = lambda kb: (f"{kb / 1024:.1f}", "MB")
    procs = ["-p", str(a.procs)] if a.procs else []

    print(f"bench-spine — {time.strftime('%Y-%m-%d %H:%M %Z')}{', QUICK (sizes / 10)' if a.quick else ''}")
    print(f"  machine: {os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
          f"{platform.machine()}; load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    for name, (sup, src) in bins.items():
        ver = subprocess.run([str(sup), "--version"], capture_output=True, text=True).stdout.strip()
        print(f"  {name}: {src} ({ver}, built {time.strftime('%Y-%m-%d %H:%M', time.localtime(src.stat().st_mtime))})")
    print(f"  reps: {a.reps}, interleaved (A B, B A, ...); median [min–max]; S={scratch}")

    # ---- data, generated once
    files, J = {}, scratch / "J.jsonl"
    if "rss" in a.only:
        for kind in a.lines:
            for n in (small, big):
                files[kind, n] = generate(scratch / f"cube-{kind}{a.modulus if kind == 'repeated' else ''}-{n}.txt", n, kind, a.modulus)
    if "resume" in a.only:
        resume_jobs = generate(scratch / f"resume-{n_resume}.txt", n_resume, "distinct", 0,
                               [(scratch / f"resume-{n_resume}-all.jsonl", n_resume), (scratch / f"resume-{n_resume}-half.jsonl", n_resume // 2)])
        for sup, _ in bins.values():
            check_journal_shape(sup, scratch)
        print("  journal shape checked: a generated journal equals a real one (but worker, ms); --resume skips exactly its jobs")
    if "cpu" in a.only:
        cpu_jobs = generate(scratch / f"cpu-{n_cpu}.txt", n_cpu, "distinct", 0)

    # ---- the measurements: key -> (argv after the binary, prep, check); each returns run()'s dict
    cases = {}
    def fresh(n, path, *opts):
        def check(_):
            lines, ok = count_lines(J)
            assert lines == ok == n, f"journal: {lines} records, {ok} ok, for {n} jobs"
            J.unlink()
        return (["-q", *procs, *opts, "-t", "cube", "--overwrite", "-o", str(J), str(path)], None, check)
    if "rss" in a.only:
        for kind in a.lines:
            for mode in ("process", "serial"):
                for n in (small, big):
                    cases["rss", kind, mode, n] = fresh(n, files[kind, n], "--mode", mode)
    if "resume" in a.only:
        cases["fresh", n_resume] = fresh(n_resume, resume_jobs)
        for which, old in (("all", n_resume), ("half", n_resume // 2)):
            src = scratch / f"resume-{n_resume}-{which}.jsonl"
            def prep(src=src):
                shutil.copy(src, J)
                return J.stat().st_size
            def check(size, old=old):
                lines, ok = count_lines(J, size)
                assert lines == ok == n_resume - old, f"--resume wrote {lines} records ({ok} ok), expected {n_resume - old}"
                J.unlink()
            cases["resume", which] = (["-q", *procs, "--resume", "-t", "cube", "-o", str(J), str(resume_jobs)], prep, check)
    if "cpu" in a.only:
        for label, opts in (("serial", ["--mode", "serial"]), ("process -c 64", ["-c", "64"]), ("process -c auto", ["-c", "auto"])):
            cases["cpu", label] = fresh(n_cpu, cpu_jobs, *opts)

    print("  commands (J on tmpfs, $S = scratch):")
    for argv, _, _ in cases.values():
        print("    supervisor " + " ".join(argv).replace(str(scratch), "$S"))
    res = {(key, b): [] for key in cases for b in bins}
    t0 = time.perf_counter()
    for rep in range(a.reps):
        order = list(bins) if rep % 2 == 0 else list(bins)[::-1]
        for key, (argv, prep, check) in cases.items():
            for b in order:
                state = prep() if prep else None
                res[key, b].append(run([str(bins[b][0]), *argv], scratch, a.verbose))
                check(state)
        print(f"  rep {rep + 1}/{a.reps} done ({time.perf_counter() - t0:.0f}s, load {open('/proc/loadavg').read().split()[0]})")

    # ---- the table: (row, target text, predicate or None, per-build list of numbers, formatter)
    rows = []
    rss = lambda key, b: [r["rss"] for r in res[key, b]]
    ratio = lambda k1, k2, b: [x / y for x, y in zip(rss(k1, b), rss(k2, b))]
    x_fmt = lambda v: (f"{v:.2f}", "×")
    if "rss" in a.only:
        for kind in a.lines:
            for mode in ("process", "serial"):
                tag = f"{mode}, {kind}{' (i % ' + str(a.modulus) + ')' if kind == 'repeated' else ''}"
                rows.append((f"rss {small // 1000}k {tag}", "", None, lambda b, k=("rss", kind, mode, small): rss(k, b), mb))
                rows.append((f"rss {big // 1000}k {tag}", "≤ 32 MB", lambda v: v <= 32 * 1024,
                             lambda b, k=("rss", kind, mode, big): rss(k, b), mb))
                rows.append((f"rss {big // 1000}k / {small // 1000}k {tag}", "≤ 1.3×", lambda v: v <= 1.3,
                             lambda b, k1=("rss", kind, mode, big), k2=("rss", kind, mode, small): ratio(k1, k2, b), x_fmt))
    if "resume" in a.only:
        m = f"{n_resume / 1e6:g}M"
        rows.append((f"rss fresh {m} distinct", "", None, lambda b: rss(("fresh", n_resume), b), mb))
        for which, old in (("all", n_resume), ("half", n_resume // 2)):
            label = "all done" if which == "all" else "half done"
            per = lambda b, w=which, o=old: [(x - y) * 1024 / o for x, y in zip(rss(("resume", w), b), rss(("fresh", n_resume), b))]
            rows.append((f"rss --resume {m}, {label}", "", None, lambda b, w=which: rss(("resume", w), b), mb))
            rows.append((f"  (peak − fresh) / {old / 1e6:g}M old records", "≤ 24 B", lambda v: v <= 24, per, lambda v: (f"{v:.1f}", "B")))
    if "cpu" in a.only:
        for label, target in (("serial", 0.6), ("process -c 64", 1.2), ("process -c auto", None)):
            rows.append((f"cpu/job {n_cpu / 1e6:g}M {label}", f"≤ {target} µs" if target else "",
                         (lambda v, t=target: v <= t) if target else None,
                         lambda b, l=label: [r["cpu"] * 1e6 / n_cpu for r in res[("cpu", l), b]], lambda v: (f"{v:.2f}", "µs")))
            rows.append((f"  wall", "", None, lambda b, l=label: [r["wall"] for r in res[("cpu", l), b]], lambda v: (f"{v:.3f}", "s")))

    head = ["row", "target", "candidate"] + (["baseline"] if "base" in bins else []) + ["result"]
    table = [head]
    for name, target, ok, values, fmt in rows:
        cells, verdicts = [name, target], []
        for b in bins:
            xs = values(b)
            cells.append(summary(xs, fmt))
            if ok:
                verdicts.append(("PASS" if ok(statistics.median(xs)) else "MISS") + (" (base)" if b == "base" else ""))
        table.append(cells + [", ".join(verdicts)])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print()
    for i, r in enumerate(table):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print(f"\n  total {time.perf_counter() - t0:.0f}s of runs; peak RSS is GNU time's %M: the largest of the supervisor and its reaped workers")
    if not a.keep:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
