#!/usr/bin/env python3
"""Mutation run of the image decoders through the real binary: no crash, no
hang, no panic on damaged files, whatever the bytes.

Writes the parity corpus (scripts/corpus.py) to a temporary directory,
makes N mutated copies of its files (random bytes set, bit flips,
truncations, 32-bit fields set to 0, 1 << 16 or all ones, which is what
sizes and offsets look like), runs `info`, `resize` and `gray` on each
through the supervisor in process mode (a crash or a hang is recorded as
such, with a 20 s timeout and each worker's memory capped at 1.5 GB, which
is past what the decoders' limits allow: 256 MiB of samples and a few
copies), and fails if any job crashed, ran out of memory, timed out, or
reported that its decoder panicked ("the decoder gave up").

Usage (with the parity virtualenv, after `cargo build --release --bins`):
  .venv-parity/bin/python scripts/fuzz-images.py [N] [SEED]   (default 20000, 20)
Environment: SUPERVISOR (default target/release/supervisor).
"""

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = [b"\x00\x00\x00\x00", b"\x00\x00\x01\x00", b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff"]


def mutate(data, rng):
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        data = data[: rng.randrange(1, len(data))]
    elif kind == 2:
        at = rng.randrange(len(data))
        data[at:at + 4] = rng.choice(FIELDS)
    else:
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20)
    sup = os.environ.get("SUPERVISOR", str(ROOT / "target" / "release" / "supervisor"))
    with tempfile.TemporaryDirectory(prefix="procmap-fuzz-") as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "corpus.py"), str(tmp / "corpus")], check=True,
                       stdout=subprocess.DEVNULL)
        files = [p for p in sorted((tmp / "corpus").rglob("*")) if p.is_file() and p.parent.name != "broken"]
        (tmp / "in").mkdir()
        jobs = []
        for i in range(n):
            src = rng.choice(files)
            f = tmp / "in" / f"{i}{src.suffix}"
            f.write_bytes(mutate(src.read_bytes(), rng))
            jobs += [f"info {f}", f"resize {f}", f"gray {f} {tmp}/out/g{i}.png"]
        (tmp / "jobs.txt").write_text("\n".join(jobs) + "\n")
        journal = tmp / "journal.jsonl"
        subprocess.run([sup, "--mode", "process", "-p", "2", "-q", "--allow-outside", "--out-dir", str(tmp / "out"),
                        "-o", str(journal), "--timeout", "20s", "--mem-limit", "1500M", str(tmp / "jobs.txt")])
        records = [json.loads(line) for line in journal.read_text().splitlines()][1:]
        bad = [r for r in records if r.get("status") in ("crashed", "timeout")
               or "the decoder gave up" in (r.get("error") or "")]
        for r in bad[:30]:
            print("FAIL", r.get("status"), r["task"], r["args"][0], (r.get("error") or "")[:160])
        if len(records) != len(jobs):
            print(f"FAIL the journal has {len(records)} records for {len(jobs)} jobs")
            return 1
        print(f"fuzz: {len(jobs)} jobs on {n} mutated files: {len(bad)} crashed, hung or panicked")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
