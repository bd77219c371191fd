"""procmap.Pool(mode="auto") beside the default and a small grid of fixed
configurations, on an I/O-bound and a CPU-bound Python function, in one run
(issue 21's targets: auto within 10% of the best configuration, and at least
5× the default on the I/O-bound one).

    python bench_auto.py [--procs 2] [--io 2000] [--cpu 2000] [--repeat 3]

    io   N × time.sleep(0.02) (the GIL released)
    cpu  N × about 1.3 ms of pure Python (the GIL held)

Configurations: procmap.Pool(procs=P) in process mode (the default is P =
--procs), more worker processes (4, 16 and 64 per core), mode="auto" with
--procs workers, and multiprocessing.pool.ThreadPool (no crash isolation,
for reference) with 16 and 128 threads. Each measurement runs in a fresh
child process; wall time from just before the pool is made until it is
shut down, CPU time the child's and every worker's (os.wait4). Each is the
fastest of --repeat runs, except the default on io (one run: it is the
slow one). Prints a Markdown table and the two targets.
"""

import argparse
import json
import os
import sys
import time

import child


def io_item(x):
    time.sleep(0.02)
    return x


def cpu_item(x):
    n = 0
    for i in range(40_000):
        n += i * i
    return n + x


def one(config, workload, n, procs):
    fn = io_item if workload == "io" else cpu_item
    items = range(n)
    start = time.perf_counter()
    decisions = []
    if config.startswith("ThreadPool"):
        from multiprocessing.pool import ThreadPool

        with ThreadPool(int(config.split("-")[1])) as pool:
            done = sum(1 for _ in pool.imap_unordered(fn, items, chunksize=1))
    else:
        import procmap

        mode, p = config.split("-")
        with procmap.Pool(procs=int(p), mode=mode) as pool:
            done = sum(1 for _ in pool.imap_unordered(fn, items, results=False))
            decisions = [d.reason for d in pool.decisions]
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "jobs": done, "decisions": decisions}))


def measure_once(config, workload, args):
    cmd = [sys.executable, __file__, "one", config, workload, str(getattr(args, workload)), str(args.procs)]
    result = child.run(cmd, f"{config} {workload}")
    print(f"  {workload:3} {config:16} wall {result['wall']:.2f}s cpu {result['cpu']:.2f}s", file=sys.stderr,
          flush=True)
    return result


def measure(config, workload, args, repeat):
    return min((measure_once(config, workload, args) for _ in range(repeat)), key=lambda r: r["wall"])


def main():
    if sys.argv[1:2] == ["one"]:
        config, workload, n, procs = sys.argv[2:6]
        one(config, workload, int(n), int(procs))
        return
    p = argparse.ArgumentParser()
    p.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--io", type=int, default=2000)
    p.add_argument("--cpu", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    args = p.parse_args()
    c = args.procs
    default = f"process-{c}"
    grid = [f"process-{k * c}" for k in (4, 16, 64)] + ["ThreadPool-16", "ThreadPool-128"]
    auto = f"auto-{c}"
    misses = []
    print(f"| workload | configuration | wall s | CPU s | note |")
    print("|---|---|---|---|---|")
    for workload in ("io", "cpu"):
        rows = {}
        rows[default] = measure(default, workload, args, 1 if workload == "io" else args.repeat)
        for config in grid:
            if workload == "cpu" and config in (f"process-{64 * c}", "ThreadPool-128"):
                continue  # more of what loses already
            rows[config] = measure(config, workload, args, args.repeat)
        rows[auto] = measure(auto, workload, args, args.repeat)
        best = min((k for k in rows if k != auto), key=lambda k: rows[k]["wall"])
        isolated = min((k for k in rows if k.startswith("process-")), key=lambda k: rows[k]["wall"])
        within = rows[auto]["wall"] / rows[best]["wall"]
        speedup = rows[default]["wall"] / rows[auto]["wall"]
        for config, r in rows.items():
            note = []
            if config == default:
                note.append("the default")
            if config == best:
                note.append("best fixed")
            if config == isolated:
                note.append("best with crash isolation")
            if config == auto:
                note.append(f"{within:.2f}× the best's time, "
                            f"{rows[auto]['wall'] / rows[isolated]['wall']:.2f}× the best isolated one's, "
                            f"{speedup:.1f}× the default's speed")
                if r["decisions"]:
                    note.append(f"chose: {r['decisions'][-1]}")
            name = config.replace("process-", "procmap.Pool(procs=").replace("auto-", 'procmap.Pool(mode="auto", procs=')
            name = name + ")" if name.startswith("procmap") else name
            print(f"| {workload} ({getattr(args, workload):,}) | {name} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                  f"{'; '.join(note)} |")
        if within > 1.10:
            misses.append(f"auto on {workload} takes {within:.2f}× the best configuration's time (≤ 1.10×)")
        if workload == "io" and speedup < 5:
            misses.append(f"auto on io is {speedup:.1f}× the default (≥ 5×)")
    print()
    for miss in misses:
        print(f"target missed: {miss}")
    sys.exit(1 if misses else 0)


if __name__ == "__main__":
    main()
