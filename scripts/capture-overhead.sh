#!/usr/bin/env bash
# What --capture tail costs a run whose jobs print nothing: N `cube` jobs at
# -p 2 --chunksize 64, with --capture none and --capture tail side by side
# (interleaved), ROUNDS times each; prints wall and CPU (user + sys of the
# whole process tree, workers included) per run, then the best of each.
#
#   scripts/capture-overhead.sh [N] [ROUNDS]     (default 1000000 5)
#
# Uses target/release/supervisor (cargo build --release --bins first).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
rounds="${2:-5}"
bin=target/release/supervisor
jobs="$(mktemp)"
trap 'rm -f "$jobs"' EXIT
seq 1 "$n" | sed 's/^/cube /' >"$jobs"
declare -A wall cpu
for mode in none tail; do wall[$mode]=999; cpu[$mode]=999; done
for _ in $(seq "$rounds"); do
    for mode in none tail; do
        line=$(/usr/bin/time -f "%e %U %S" "$bin" -q -p 2 --chunksize 64 --capture "$mode" \
            -o /dev/null --overwrite "$jobs" 2>&1 | tail -1)
        read -r w u s <<<"$line"
        c=$(echo "$u + $s" | bc)
        echo "$mode wall ${w}s cpu ${c}s"
        if (($(echo "$w < ${wall[$mode]}" | bc))); then wall[$mode]=$w; fi
        if (($(echo "$c < ${cpu[$mode]}" | bc))); then cpu[$mode]=$c; fi
    done
done
echo "best of $rounds, $n jobs: none wall ${wall[none]}s cpu ${cpu[none]}s; tail wall ${wall[tail]}s cpu ${cpu[tail]}s"
echo "tail/none: wall $(echo "scale=3; ${wall[tail]} / ${wall[none]}" | bc)x, cpu $(echo "scale=3; ${cpu[tail]} / ${cpu[none]}" | bc)x"
