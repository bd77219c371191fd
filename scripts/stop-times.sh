#!/usr/bin/env bash
# How long `supervisor -p N` takes to exit after a SIGINT sent 0.15 s after
# it started, for several N (issue 8, item 4), with its peak memory and
# thread count. Jobs are 100,000 `cube 2 20` lines (20 ms each), so every
# worker is busy or starting when the signal lands; --grace 1s.
#
#   scripts/stop-times.sh [N ...]        default: 32 40 64 150 1000
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SUPERVISOR:-target/release/supervisor}
[ -x "$bin" ] || cargo build --release --bins
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seq 100000 | sed 's/.*/cube 2 20/' > "$tmp/jobs.txt"
set +e  # a probe of a process that just exited may fail; keep measuring
printf '%-6s %-8s %-10s %-12s %-8s %s\n' procs exit stop_s peak_rss_mb threads records
for n in "${@:-32 40 64 150 1000}"; do
  for p in $n; do
    rm -f "$tmp/j.jsonl"
    "$bin" -q -p "$p" --grace 1s -o "$tmp/j.jsonl" "$tmp/jobs.txt" 2>"$tmp/err" &
    pid=$!
    sleep 0.15
    threads=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
    start=$(date +%s.%N)
    kill -INT "$pid"
    peak=0
    while kill -0 "$pid" 2>/dev/null; do
      rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${rss:-0}" -gt "$peak" ] && peak=$rss
      t=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
      [ "$t" -gt "$threads" ] && threads=$t
      sleep 0.01
    done
    wait "$pid"; code=$?
    end=$(date +%s.%N)
    printf '%-6s %-8s %-10.2f %-12.1f %-8s %s\n' "$p" "$code" "$(echo "$end - $start" | bc)" \
      "$(echo "$peak / 1024" | bc -l)" "$threads" "$(grep -c '^{"line"' "$tmp/j.jsonl")"
    grep -v '^$' "$tmp/err" | grep -v 'stopping\|interrupted' | head -3 || true
  done
done
