#!/usr/bin/env bash
# Instructions (callgrind, whole process tree) of N and 2N `cube` jobs at
# -p 2 --chunksize 64, --capture none and tail: the marginal instructions
# per job of each, which a loaded machine does not blur as it blurs time.
#
#   scripts/capture-instructions.sh [N]      (default 20000; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
bin="$PWD/target/release/supervisor"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
seq 1 "$n" | sed 's/^/cube /' >"$dir/n.txt"
seq 1 $((2 * n)) | sed 's/^/cube /' >"$dir/2n.txt"
declare -A total
for size in n 2n; do
    for mode in none tail; do
        valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$dir/$mode.$size.out.%p" \
            --log-file="$dir/$mode.$size.log.%p" "$bin" -q -p 2 --chunksize 64 --capture "$mode" \
            -o /dev/null --overwrite "$dir/$size.txt" 2>/dev/null
        total[$mode.$size]=$(grep -h Collected "$dir/$mode.$size.log."* | awk '{s += $4} END {print s}')
        echo "$mode, $size: ${total[$mode.$size]} instructions"
    done
done
for mode in none tail; do
    echo "$mode: $(((total[$mode.2n] - total[$mode.n]) / n)) instructions per job"
done
