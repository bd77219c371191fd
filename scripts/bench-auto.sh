#!/usr/bin/env bash
# Issue 21: `--mode auto` side by side with the best configuration that
# `supervisor compare` finds on a grid (process / thread / hybrid × procs ×
# threads), and with today's default (process mode, one thread per worker,
# one worker per core), on three workloads in one run:
#
#   cube    CUBE_N trivial `cube X` jobs: CPU-bound, tiny
#   sleep   SLEEP_N `cube X 20` jobs: each sleeps 20 ms, I/O-bound
#   tiles   TILES_N EuroSAT-like tiles through eurosat-rgb (`supervisor
#           demo --no-run` makes them): CPU-bound, a few µs to ms each
#
# Every configuration is a separate `supervisor` run through `supervisor
# compare` (its wall time, and its CPU time per job: supervisor and workers,
# user + system). Data and outputs live on tmpfs. Prints one table, and the
# two targets: auto within 10% of the best grid row on each workload, and at
# least 5× today's default on `sleep`.
#
#   scripts/bench-auto.sh [--no-build] [CUBE_N [SLEEP_N [TILES_N]]]
#
# Defaults: 1,000,000 cubes, 10,000 sleeps (today's default takes 100 s on
# them with 2 cores: that row runs once, the others 3 times, best kept),
# 27,000 tiles. REPEAT=N changes the 3.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = --no-build ]; then build=0; shift; fi
cube_n=${1:-1000000}
sleep_n=${2:-10000}
tiles_n=${3:-27000}
repeat=${REPEAT:-3}
cores=$(nproc)

[ "$build" = 1 ] && cargo build --release --bins --quiet
bin=$PWD/target/release/supervisor
scratch=$(mktemp -d /dev/shm/procmap-bench-auto.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

seq 1 "$cube_n" >"$scratch/cube.txt"
seq 1 "$sleep_n" | sed 's/$/ 20/' >"$scratch/sleep.txt"
"$bin" demo --n "$tiles_n" --dir "$scratch/tiles" --no-run 2>/dev/null
tiles=$scratch/tiles/jobs.txt

# compare WORKLOAD NAME ARGS...: one `supervisor compare` into csv/WORKLOAD-NAME.
compare() {
  local workload=$1 name=$2
  shift 2
  echo "== $workload: compare $*" >&2
  (cd "$scratch" && TMPDIR="$scratch" "$bin" compare --chunksizes auto --report "csv/$workload-$name" "$@" >/dev/null)
}

for w in cube tiles; do
  case $w in
    cube) jobs=(--task cube "$scratch/cube.txt") ;;
    tiles) jobs=("$tiles") ;;
  esac
  compare "$w" grid --repeat "$repeat" --modes process,thread --procs "1,$cores" "${jobs[@]}"
  for t in 4 16; do
    compare "$w" "hybrid$t" --repeat "$repeat" --modes hybrid --threads "$t" --procs "$cores" "${jobs[@]}"
  done
  compare "$w" auto --repeat "$repeat" --modes auto --procs "$cores" "${jobs[@]}"
done

# Sleeping jobs: one worker per core at one thread (today's default) takes
# SLEEP_N × 20 ms / cores; it runs once. The grid goes to 128 jobs at once.
sleep_jobs=(--task cube "$scratch/sleep.txt")
compare sleep default --repeat 1 --modes process --procs "$cores" "${sleep_jobs[@]}"
compare sleep grid --repeat "$repeat" --modes thread --procs 16,64,128 "${sleep_jobs[@]}"
for t in 4 16 64; do
  compare sleep "hybrid$t" --repeat "$repeat" --modes hybrid --threads "$t" --procs "$cores" "${sleep_jobs[@]}"
done
compare sleep auto --repeat "$repeat" --modes auto --procs "$cores" "${sleep_jobs[@]}"

echo "--mode auto vs the best of the grid and today's default ($cores cores, $(date -u +%Y-%m-%d), best of $repeat runs; sleep's default once)"
python3 - "$scratch/csv" "$cores" <<'EOF'
import csv, glob, os, sys

root, cores = sys.argv[1], sys.argv[2]
fail = False
print(f"{'workload':8} {'configuration':26} {'wall s':>8} {'jobs/s':>9} {'cpu ms/job':>11}  note")
for workload in ("cube", "sleep", "tiles"):
    rows = []
    for path in sorted(glob.glob(os.path.join(root, f"{workload}-*", "results.csv"))):
        rows += list(csv.DictReader(open(path)))
    def name(r):
        if r["mode"] == "hybrid":
            return f"hybrid {r['procs']}×{r['threads']}"
        return f"{r['mode']} {r['procs']}"
    is_default = lambda r: r["mode"] == "process" and r["procs"] == cores and r["threads"] == "1"
    auto = next(r for r in rows if r["mode"] == "auto")
    default = next(r for r in rows if is_default(r))
    grid = [r for r in rows if r["mode"] != "auto"]
    best = min(grid, key=lambda r: float(r["wall_s"]))
    # Auto keeps crash isolation: it chooses among worker processes, never
    # thread mode, so the best process or hybrid row is its own yardstick.
    isolated = min((r for r in grid if r["mode"] in ("process", "hybrid")), key=lambda r: float(r["wall_s"]))
    for r in rows:
        if r["failed"] != "0":
            print(f"{workload}: {name(r)} had {r['failed']} failed jobs", file=sys.stderr)
            fail = True
    for r in sorted(rows, key=lambda r: float(r["wall_s"])):
        notes = []
        if r is best:
            notes.append("best of the grid")
        if r is isolated and r is not best:
            notes.append("best with crash isolation")
        if is_default(r):
            notes.append("today's default")
        print(f"{workload:8} {name(r):26} {float(r['wall_s']):8.3f} {float(r['jobs_per_s']):9.0f} "
              f"{float(r['cpu_ms_per_job']):11.4f}  {', '.join(notes)}")
    vs_best = float(auto["wall_s"]) / float(best["wall_s"])
    vs_default = float(default["wall_s"]) / float(auto["wall_s"])
    ok_best = vs_best <= 1.10
    line = f"  {workload}: auto takes {vs_best:.2f}× the best ({name(best)}): {'PASS' if ok_best else 'MISS'} (≤ 1.10×)"
    if isolated is not best:
        line += f"; {float(auto['wall_s']) / float(isolated['wall_s']):.2f}× the best with crash isolation ({name(isolated)})"
    line += f"; {vs_default:.2f}× faster than today's default"
    fail |= not ok_best
    if workload == "sleep":
        ok = vs_default >= 5
        fail |= not ok
        line += f": {'PASS' if ok else 'MISS'} (≥ 5×)"
    elif vs_default < 0.95:
        line += " (loses more than 5%)"
    print(line)
sys.exit(1 if fail else 0)
EOF
