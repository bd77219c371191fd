"""Python baselines for the `cube` rows of scripts/bench (seed 003's cube).

    python cube_pool.py --api imap_unordered|ppe_map --n N --procs P --chunksize C

imap_unordered: multiprocessing.Pool(P).imap_unordered(cube, range(n), chunksize=C)
ppe_map:        concurrent.futures.ProcessPoolExecutor(P).map(cube, range(n), chunksize=C)

Every result is consumed (summed, and counted so that a lost result is
noticed). The timed span is time.perf_counter() from just before the pool is
created to just after it is shut down: worker start-up and shutdown are
included, interpreter start-up and imports are not (scripts/bench also
times the whole process from outside). Prints one line:

    bench: jobs=N elapsed=SECONDS checksum=...
"""
import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool


def cube(x):
    # Seed 003's task without its sleep and print.
    return x**3


def run_imap_unordered(n, procs, chunksize):
    pool = Pool(procs)
    total = count = 0
    for value in pool.imap_unordered(cube, range(n), chunksize=chunksize):
        total += value
        count += 1
    pool.close()
    pool.join()
    return total, count


def run_ppe_map(n, procs, chunksize):
    total = count = 0
    with ProcessPoolExecutor(max_workers=procs) as executor:
        for value in executor.map(cube, range(n), chunksize=chunksize):
            total += value
            count += 1
    return total, count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", choices=["imap_unordered", "ppe_map"], required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--chunksize", type=int, default=1)
    a = p.parse_args()
    fn = run_imap_unordered if a.api == "imap_unordered" else run_ppe_map
    start = time.perf_counter()
    total, count = fn(a.n, a.procs, a.chunksize)
    elapsed = time.perf_counter() - start
    expected = (a.n * (a.n - 1) // 2) ** 2  # sum of cubes 0..n-1
    if count != a.n or total != expected:
        print(f"bench: wrong results: {count} of {a.n}, checksum {total} != {expected}", file=sys.stderr)
        return 1
    print(f"bench: jobs={count} elapsed={elapsed:.6f} checksum={total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
