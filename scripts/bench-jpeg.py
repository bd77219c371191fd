#!/usr/bin/env python3
"""JPEG decode + resize to 224x224 per image: procmap's `resize` against
Pillow's `Image.open(p).resize((224, 224))`, on the same files, in one run.

Both sides use one core: Pillow in this process, procmap with
`--mode serial` (jobs run inline in the supervisor). Wall time and CPU time
(user + system) are measured for each; the CPU time of procmap is its
process's rusage, so process start-up is included. Files are written
first (Pillow, quality 90, 4:2:0) from the real photographs in the
scikit-image and matplotlib wheels, at 640x480 unless BENCH_SIZE says
otherwise, and read once before timing so both sides find them in the page
cache.

Usage: scripts/bench-jpeg.sh (builds the release binary and sets up the
virtualenv), or this script with SUPERVISOR set. BENCH_N images (default
300), BENCH_REPEAT runs of each side, the best kept (default 3).
"""

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
import skimage
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    Path(skimage.__file__).parent / "data" / n
    for n in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "retina.jpg", "hubble_deep_field.jpg",
              "motorcycle_left.png"]
] + [Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    sup = Path(os.environ.get("SUPERVISOR", ROOT / "target" / "release" / "supervisor"))
    if not sup.exists():
        sys.exit(f"bench-jpeg: {sup} not found (scripts/bench-jpeg.sh builds it)")
    n = int(os.environ.get("BENCH_N", "300"))
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    w, h = (int(v) for v in os.environ.get("BENCH_SIZE", "640x480").split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="procmap-bench-jpeg-"))
    try:
        bases = [Image.open(p).convert("RGB") for p in SOURCES]
        files = []
        for i in range(n):
            b = bases[i % len(bases)]
            # A different crop per file, so no two files are the same.
            dx, dy = (i * 7) % max(b.width // 4, 1), (i * 5) % max(b.height // 4, 1)
            im = b.crop((dx, dy, dx + b.width * 3 // 4, dy + b.height * 3 // 4)).resize((w, h))
            p = tmp / f"{i:04d}.jpg"
            im.save(p, quality=90)
            files.append(p)
        for p in files:
            p.read_bytes()
        jobs = tmp / "jobs.txt"
        jobs.write_text("".join(f"resize {p}\n" for p in files))

        pillow = []
        for _ in range(repeat):
            c0, t0 = self_cpu(), time.perf_counter()
            for p in files:
                Image.open(p).resize((224, 224))
            pillow.append((time.perf_counter() - t0, self_cpu() - c0))
        ours = []
        for r in range(repeat):
            journal = tmp / f"journal{r}.jsonl"
            c0, t0 = children_cpu(), time.perf_counter()
            subprocess.run([str(sup), "--mode", "serial", "-q", "-o", str(journal), str(jobs)], check=True)
            ours.append((time.perf_counter() - t0, children_cpu() - c0))
            # Records: every line but the run's header ({"journal":2,...}).
            lines = [l for l in journal.read_text().splitlines() if not l.startswith('{"journal":')]
            if len(lines) != n or any('"status":"ok"' not in line for line in lines):
                sys.exit(f"bench-jpeg: procmap did not answer ok for all {n} jobs ({journal})")
        pw, pc = min(pillow)[0], min(p[1] for p in pillow)
        ow, oc = min(ours)[0], min(o[1] for o in ours)
        us = lambda t: f"{t / n * 1e6:8.0f} µs"  # noqa: E731
        print(f"bench-jpeg: {n} JPEGs {w}x{h} (quality 90, 4:2:0) -> 224x224, one core each, best of {repeat}")
        print(f"{'':<22} {'wall/image':>12} {'cpu/image':>12}")
        print(f"{'Pillow ' + Image.__version__:<22} {us(pw):>12} {us(pc):>12}")
        print(f"{'procmap resize':<22} {us(ow):>12} {us(oc):>12}")
        print(f"bench-jpeg: procmap is {pw / ow:.2f}x Pillow's speed in wall time, {pc / oc:.2f}x in CPU time")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
