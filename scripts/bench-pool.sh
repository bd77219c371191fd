#!/usr/bin/env bash
# Throughput of the pool itself: 1,000,000 `cube` jobs from a file, results
# to a file, at chunksize 1 and 64, in process, thread and serial mode.
#
#   scripts/bench-pool.sh [JOBS] [PROCS]
#
# Prints one row per configuration: wall seconds and jobs/s as reported by
# the supervisor's own summary. Scratch files go to a temporary directory
# (tmpfs if /dev/shm exists) that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
procs=${2:-2}

cargo build --release --bins --quiet
bin=target/release/supervisor
base=/tmp
[ -d /dev/shm ] && base=/dev/shm
scratch=$(mktemp -d "$base/procmap-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

seq 1 "$n" | sed 's/^/cube /' > "$scratch/jobs.txt"
echo "procmap pool benchmark: $n cube jobs, $procs procs, $(nproc) cores"
printf '%-8s %9s %9s %12s\n' mode chunksize wall_s jobs_per_s
for chunksize in 1 64; do
  for mode in process thread serial; do
    summary=$("$bin" --mode "$mode" -p "$procs" -c "$chunksize" --overwrite \
      -o "$scratch/out.jsonl" "$scratch/jobs.txt" 2>&1 >/dev/null | grep 'jobs in')
    wall=$(sed -E 's/.* jobs in ([0-9.]+)s.*/\1/' <<<"$summary")
    rate=$(sed -E 's/.*s, ([0-9]+) jobs\/s.*/\1/' <<<"$summary")
    lines=$(grep -c '^{"line"' "$scratch/out.jsonl")
    [ "$lines" -eq "$n" ] || { echo "expected $n records, got $lines" >&2; exit 1; }
    printf '%-8s %9s %9s %12s\n' "$mode" "$chunksize" "$wall" "$rate"
  done
done
