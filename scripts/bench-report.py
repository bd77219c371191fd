#!/usr/bin/env python3
"""bench-report.py: how long `supervisor report` takes on a big journal, and
how much memory (issue 22: a 1M-record journal in under 5 s and 200 MB).

Writes a journal of N records (default 1,000,000) as a 16-worker process run
of `cube` jobs would: one header, records in completion order with `start`
and `ms`, 1 in 1,000 an error, 1 in 50,000 crashed and 1 in 100,000 timed
out (each with its worker replaced by a new pid). Then runs
`supervisor report` on it --reps times and prints the wall time and peak RSS
(the child's ru_maxrss) of each, their median, the page's size, and whether
each target is met. A MISS exits 1.

  scripts/bench-report.py [--bin target/release/supervisor] [--records N] [--reps 3]
"""
import argparse, os, random, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S, TARGET_MB, TARGET_PAGE_MB = 5.0, 200.0, 5.0


def write_journal(path, records, workers=16, seed=22):
    rng = random.Random(seed)
    pids = [10_000 + w for w in range(workers)]
    free_at = [0.0] * workers  # ms since the run's start, per worker
    next_pid = 20_000
    with open(path, "w") as f:
        f.write('{"journal":2,"writer":"supervisor 0.1.0","started_unix":1796203528.533,"host":"bench","pid":1}\n')
        for line in range(1, records + 1):
            w = min(range(workers), key=free_at.__getitem__) if line % 64 == 0 else rng.randrange(workers)
            start = free_at[w]
            ms = rng.expovariate(1 / 0.05)  # 50 us on average: ~20 s of run on 16 workers
            a = rng.randrange(1_000_000)
            head = f'{{"line":{line},"task":"cube","args":["{a}"],'
            if line % 100_000 == 0:
                f.write(head + f'"status":"timeout","error":"timed out: ran 1000ms (limit 1000ms); worker {pids[w]} was killed and replaced","attempts":1,"worker":{pids[w]},"ms":1000,"start":{start:.6f}}}\n')
                free_at[w] = start + 1000
                pids[w], next_pid = next_pid, next_pid + 1
            elif line % 50_000 == 0:
                f.write(head + f'"status":"crashed","error":"its worker died on each of its 3 attempts; the last time worker {pids[w]} was killed by SIGSEGV","signal":"SIGSEGV","attempts":3,"worker":{pids[w]},"start":{start:.6f}}}\n')
                free_at[w] = start + 5
                pids[w], next_pid = next_pid, next_pid + 1
            elif line % 1000 == 0:
                f.write(head + f'"status":"error","error":"bad argument {a}","attempts":1,"worker":{pids[w]},"ms":{ms:.6f},"start":{start:.6f}}}\n')
                free_at[w] = start + ms
            else:
                f.write(head + f'"status":"ok","value":{a ** 3},"attempts":1,"worker":{pids[w]},"ms":{ms:.6f},"start":{start:.6f}}}\n')
                free_at[w] = start + ms


def measure(binary, journal, page):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([binary, "report", journal, "-o", page], capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"supervisor report failed ({out.returncode}): {out.stderr}")
    # ru_maxrss of the children is the largest of any child so far: the
    # report is the biggest child this script starts.
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return wall, peak_kb / 1024, out.stderr.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target/release/supervisor"))
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin} is not built: cargo build --release --bin supervisor")
    with tempfile.TemporaryDirectory(prefix="bench-report") as tmp:
        journal, page = os.path.join(tmp, "journal.jsonl"), os.path.join(tmp, "report.html")
        t0 = time.perf_counter()
        write_journal(journal, args.records)
        size = os.path.getsize(journal) / 2**20
        print(f"journal: {args.records} records, {size:.0f} MB, written in {time.perf_counter() - t0:.1f}s")
        walls, peaks = [], []
        for rep in range(args.reps):
            wall, peak, said = measure(args.bin, journal, page)
            walls.append(wall)
            peaks.append(peak)
            print(f"  run {rep + 1}: {wall:.2f} s, peak RSS {peak:.0f} MB   ({said.splitlines()[0] if said else ''})")
        page_mb = os.path.getsize(page) / 2**20
    wall, peak = statistics.median(walls), max(peaks)
    ok = wall < TARGET_S and peak < TARGET_MB and page_mb < TARGET_PAGE_MB
    print(f"report of {args.records} records: {wall:.2f} s (median of {args.reps}; target < {TARGET_S:.0f} s), "
          f"peak RSS {peak:.0f} MB (target < {TARGET_MB:.0f} MB), page {page_mb:.2f} MB (target < {TARGET_PAGE_MB:.0f} MB): "
          f"{'OK' if ok else 'MISS'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
