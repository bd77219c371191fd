"""Time to the first record, measured from outside the supervisor.

    python first_record.py SUPERVISOR ARGS...

Starts SUPERVISOR ARGS... with its journal on a pipe (ARGS must not name
-o), and prints the milliseconds from just before the process is created
until the first complete journal line arrives, then drains the rest:

    first_record_ms=X.XXX

It trusts nothing the supervisor says about itself (issue 10: benchmark
rows must not grade themselves).
"""
import subprocess
import sys
import time

t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
line = proc.stdout.readline()
t1 = time.perf_counter()
proc.stdout.read()
code = proc.wait()
if not line.endswith(b"\n") or code != 0:
    sys.exit(f"no record, or exit status {code}")
print(f"first_record_ms={(t1 - t0) * 1e3:.3f}")
