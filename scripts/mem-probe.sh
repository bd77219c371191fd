#!/usr/bin/env bash
# Peak RSS, CPU per job and wall time of two builds of the supervisor, run
# interleaved on the same `cube` jobs files, so that load from other work
# on the machine falls on both alike.
#
#   scripts/mem-probe.sh BEFORE_DIR AFTER_DIR [REPS]
#
# Each DIR holds a `supervisor` and its `supervisor-worker` (copy them out
# of target/release after building each commit). Every configuration runs
# REPS times (default 5), before and after alternating which goes first.
# Prints, per configuration and build, the median and [min-max] of: peak
# RSS in MB (GNU time's %M: the largest of the supervisor and its reaped
# workers), CPU per job in µs (user+sys of all of them ÷ jobs) and wall
# seconds. The journal goes to tmpfs, as do the jobs files (`i % 1000`
# per line). CONFIGS (env) overrides the list: "N:FLAGS;N:FLAGS;...".
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
before=$(realpath "$1")
after=$(realpath "$2")
reps=${3:-5}
base=/tmp
[ -d /dev/shm ] && base=/dev/shm
scratch=$(mktemp -d "$base/procmap-mem.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

default_configs="300000:-p 1;3000000:-p 1;300000:-p 2;3000000:-p 2;300000:-p 4;3000000:-p 4"
default_configs+=";300000:-p 1 -c 64;3000000:-p 1 -c 64;300000:-p 2 -c 64;3000000:-p 2 -c 64"
default_configs+=";300000:-p 4 -c 64;3000000:-p 4 -c 64"
default_configs+=";1000000:-p 2;1000000:-p 2 -c 64;1000000:--mode serial;3000000:--mode serial"
IFS=';' read -r -a configs <<<"${CONFIGS:-$default_configs}"

jobs_file() {
  local f="$scratch/cube$1.txt"
  [ -f "$f" ] || python3 -c "import sys; open(sys.argv[1],'w').write(''.join(f'{i%1000}\n' for i in range(int(sys.argv[2]))))" "$f" "$1"
  echo "$f"
}

results="$scratch/results.tsv"
run() { # build-name dir n flags
  local out
  # shellcheck disable=SC2086 # the flags are words
  out=$(/usr/bin/time -f "%M %U %S %e" "$2/supervisor" -q -t cube $4 --overwrite \
    -o "$scratch/journal.jsonl" "$(jobs_file "$3")" 2>&1 >/dev/null | tail -1)
  local lines
  lines=$(($(wc -l <"$scratch/journal.jsonl") - 1))
  [ "$lines" -eq "$3" ] || { echo "$1 $3 $4: expected $3 records, got $lines" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\n' "$3 $4" "$1" "$3" "$out" >>"$results"
}

echo "mem-probe: $reps reps, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq 1 "$reps"); do
  for config in "${configs[@]}"; do
    n=${config%%:*}
    flags=${config#*:}
    if [ $((rep % 2)) -eq 1 ]; then
      run before "$before" "$n" "$flags"
      run after "$after" "$n" "$flags"
    else
      run after "$after" "$n" "$flags"
      run before "$before" "$n" "$flags"
    fi
  done
  echo "rep $rep done" >&2
done

python3 - "$results" <<'EOF'
import sys, statistics
from collections import defaultdict
rows = defaultdict(lambda: defaultdict(list))
order = []
for line in open(sys.argv[1]):
    config, build, n, fields = line.rstrip("\n").split("\t")
    kb, user, sys_, wall = fields.split()
    if config not in order:
        order.append(config)
    r = rows[config][build]
    r.append((int(kb) / 1000, (float(user) + float(sys_)) / int(n) * 1e6, float(wall)))

def cell(values, fmt):
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"

print(f"{'config':<26} {'peak MB before':>20} {'peak MB after':>20} {'µs/job before':>20} {'µs/job after':>20} {'wall s before':>20} {'wall s after':>20}")
for config in order:
    b, a = rows[config]["before"], rows[config]["after"]
    cols = []
    for i, fmt in ((0, "{:.1f}"), (1, "{:.2f}"), (2, "{:.2f}")):
        cols += [cell([x[i] for x in b], fmt), cell([x[i] for x in a], fmt)]
    print(f"{config:<26} " + " ".join(f"{c:>20}" for c in cols))
EOF
