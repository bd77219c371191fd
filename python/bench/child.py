"""What the benchmarks share: one measurement runs in a child process of
its own, so that each starts cold and its CPU time (the whole process tree's
user + system time, from wait4) is its own."""

import json
import os
import subprocess


def run(cmd, label, **popen):
    """Runs ``cmd``, whose last line of output is a JSON object; returns it
    with ``cpu`` added. Exits naming ``label`` if the child fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **popen)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{label} failed (status {status})")
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return result
