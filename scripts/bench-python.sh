#!/usr/bin/env bash
# Benchmarks the procmap Python package against multiprocessing.Pool and
# ProcessPoolExecutor, side by side in one run (python/bench/bench_pool.py):
# 1M trivial calls (chunksize 64), with and without a journal, and seed 001's
# function over synthetic tiles, with and without one segfaulting tile. Wall
# and total CPU time (the whole process tree) per job. Not run in CI.
#
#   scripts/bench-python.sh [--procs 2] [--trivial 1000000] [--tiles 5000] [--repeat 3] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python.sh
venv="${PROCMAP_PY_VENV:-.venv-py}"
exec "$venv/bin/python" python/bench/bench_pool.py "$@"
