#!/usr/bin/env bash
# Seed 001's data set size: N EuroSAT-like tiles (default 27,000, as many as
# EuroSAT has) through eurosat-rgb in serial, thread and process mode, and
# through seed 001's own Python pipeline (skimage + ProcessPoolExecutor) on
# the same tiles, one after the other. Tiles and outputs live on tmpfs.
#
#   scripts/bench-eurosat.sh [N] [PROCS]
#
# Needs the virtualenv of scripts/bench (made on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-27000}
procs=${2:-2}
venv=${BENCH_VENV:-.venv-bench}

cargo build --release --bins --quiet
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy scikit-image tifffile imagecodecs Pillow

bin=target/release/supervisor
scratch=$(mktemp -d /dev/shm/procmap-eurosat.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

"$bin" demo --n "$n" --dir "$scratch/d" --no-run 2>/dev/null
jobs=$scratch/d/jobs.txt
echo "eurosat-rgb on $n tiles (tmpfs), $procs procs, $(nproc) cores"
printf '%-28s %8s %10s\n' run wall_s tiles_per_s
for mode in serial thread process; do
  rm -rf "$scratch/png"
  start=$(date +%s%N)
  "$bin" --mode "$mode" -p "$procs" -q --overwrite -o "$scratch/j.jsonl" --out-dir "$scratch/png" "$jobs"
  end=$(date +%s%N)
  pngs=$(find "$scratch/png" -name '*.png' | wc -l)
  [ "$pngs" -eq "$n" ] || { echo "$mode: $pngs PNGs for $n tiles" >&2; exit 1; }
  awk -v m="procmap $mode" -v ns=$((end - start)) -v n="$n" 'BEGIN { printf "%-28s %8.2f %10.0f\n", m, ns/1e9, n/(ns/1e9) }'
done
rm -rf "$scratch/pyout" && mkdir -p "$scratch/pyout"
start=$(date +%s%N)
"$venv/bin/python" scripts/bench.d/eurosat_ppe.py --jobs "$jobs" --dest "$scratch/pyout" --procs "$procs" >/dev/null
end=$(date +%s%N)
awk -v m="seed 001 Python, PPE($procs)" -v ns=$((end - start)) -v n="$n" 'BEGIN { printf "%-28s %8.2f %10.0f\n", m, ns/1e9, n/(ns/1e9) }'
