#!/usr/bin/env bash
# A batch as a Slurm job array, on a real single-node Slurm (scripts/slurm-local.sh):
# submit, status, merge, a cancelled array task, resubmit. About 30 s.
#
# 1. `slurm submit` 4 shards of 2,000 jobs: cube, synthetic EuroSAT tiles,
#    and real faults (segfault, abort, exit codes).
# 2. When the array has ended: `status` has every job, the faults crashed;
#    `merge` has one record per line, and every tile's PNG exists.
# 3. Slow jobs, one array task cancelled mid-run: `status` says incomplete.
# 4. `slurm resubmit` finishes that shard; no job is recorded ok twice.
#
# Every wait has a deadline and says what it waited for; the daemons are
# stopped by PID on the way out, whatever happened. Ends with
# `slurm: N passed, M failed` and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# A Slurm of its own (directory and ports), so that one started by hand
# with scripts/slurm-local.sh is neither used nor stopped.
export PROCMAP_SLURM_DIR=$ROOT/target/slurm-test
export PROCMAP_SLURM_PORT=16827
export SLURM_CONF=$PROCMAP_SLURM_DIR/slurm.conf
WORK=$PROCMAP_SLURM_DIR/work
passed=0
failed=0
started=$SECONDS

ok() { echo "slurm: ok: $*"; passed=$((passed + 1)); }
fail() { echo "slurm: FAILED: $*"; failed=$((failed + 1)); }
check() { # check WHAT COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
  "$ROOT/scripts/slurm-local.sh" down >/dev/null 2>&1 || echo "slurm: warning: stopping the daemons failed"
  ((failed == 0)) || echo "slurm: logs in $PROCMAP_SLURM_DIR/log and $WORK/*/logs"
  echo "slurm: took $((SECONDS - started)) s"
  echo "slurm: $passed passed, $failed failed"
  ((failed == 0)) || exit 1
}
trap finish EXIT
trap 'fail "interrupted"; exit 1' INT TERM

# Waits up to $2 seconds for array job $1 to leave the queue.
wait_array() {
  local job=$1 limit=$2 deadline=$((SECONDS + $2))
  while [[ -n $(squeue -h -j "$job" 2>/dev/null) ]]; do
    if ((SECONDS >= deadline)); then
      echo "slurm: timed out after ${limit}s waiting for array job $job to end:"
      squeue -j "$job"
      return 1
    fi
    sleep 0.2
  done
}

# The field $2 (a Python expression over `r`) of `supervisor status --json $1`.
status_field() {
  "$SUPERVISOR" status --json "$1" | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"
}

# How many jobs of the run directory $1 have two ok records (status's own
# count: the journal's identity rules live in one place, procmap-batch).
ok_twice() {
  n=$(status_field "$1" 'r["ok_twice"]')
  echo "$n"
  test "$n" = 0
}

cargo build --quiet --bins || exit 2
SUPERVISOR=$ROOT/target/debug/supervisor
scripts/slurm-local.sh down >/dev/null 2>&1 # a previous run killed outright
scripts/slurm-local.sh up >/dev/null || { fail "starting Slurm (see $PROCMAP_SLURM_DIR/log)"; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2

# 1. 2,000 jobs: 296 tiles, 1,700 cubes, 4 faults spread through the file.
# Every line is distinct: identical lines are told apart by the journal's
# occurrence field (issue 8).
"$SUPERVISOR" demo --no-run --n 296 --dir data >/dev/null 2>&1 || { fail "supervisor demo --no-run"; exit 1; }
{
  grep -v '^#' data/jobs.txt
  seq 1 1700 | sed 's/^/cube /'
} | awk 'NR == 100 { print "fault segfault" } NR == 700 { print "fault exit 3" }
         NR == 1300 { print "fault abort" } NR == 1900 { print "fault exit 4" } { print }' >jobs.txt
JOBS=$(wc -l <jobs.txt)
[[ $JOBS == 2000 ]] || { fail "the jobs file has $JOBS lines, not 2000"; exit 1; }

t0=$(date +%s%N)
job=$("$SUPERVISOR" slurm submit jobs.txt --shards 4 --run-dir run -p 1 --out-dir png 2>submit.log)
check "slurm submit: job ${job:-none}" test -n "$job"
check "the 4-task array of job $job ends within 90 s" wait_array "$job" 90
ms=$((($(date +%s%N) - t0) / 1000000))
echo "slurm: 4 shards of 2000 jobs: submitted, run and ended in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
"$SUPERVISOR" status run
"$SUPERVISOR" status run >/dev/null
code=$?
total=$(status_field run 'r["total"]["jobs"], r["total"]["ok"], r["total"]["crashed"], r["total"]["missing"], r["total"]["error"]')
check "status: every job recorded, faults crashed ($total), exit $code" \
  test "$total|$code" == "2000 1996 4 0 0|1"

"$SUPERVISOR" merge run -o all.jsonl 2>/dev/null
# Records only: the merged journal starts with a header line ({"journal":2,...}).
lines=$(grep -c '^{"line"' all.jsonl)
distinct=$(python3 -c 'import json,sys; print(len({json.loads(l)["line"] for l in open("all.jsonl") if "line" in json.loads(l)}))')
pngs=$(find png -name '*.png' | wc -l)
check "merge: one record per line ($lines records, $distinct lines), a PNG per tile ($pngs of 296)" \
  test "$lines/$distinct/$pngs" == "2000/2000/296"

# 3. Slow jobs (300 × 20 ms per shard), one array task cancelled mid-run.
seq 1 1200 | sed 's/^/cube /; s/$/ 20/' >slow.txt
job=$("$SUPERVISOR" slurm submit slow.txt --shards 4 --run-dir slow -p 1 2>>submit.log)
journal=slow/journal/shard-0001-of-0004.jsonl
deadline=$((SECONDS + 30))
until [[ -s $journal ]] && (($(wc -l <"$journal") >= 20)); do
  if ((SECONDS >= deadline)); then
    echo "slurm: timed out after 30 s waiting for 20 records of shard 1 in $journal"
    break
  fi
  sleep 0.1
done
scancel "${job}_1"
wait_array "$job" 90 || fail "the slow array of job $job ends within 90 s"
"$SUPERVISOR" status slow
"$SUPERVISOR" status slow >/dev/null
code=$?
missing=$(status_field slow '[s["missing"] for s in r["shards"]]')
check "status: the cancelled shard 1 is incomplete ($missing missing by shard), exit $code" \
  python3 -c "import sys; m=$missing; sys.exit(0 if m[1] > 0 and m[0] == m[2] == m[3] == 0 and $code == 1 else 1)"

# 4. Resubmit: only shard 1 runs again, and finishes.
job=$("$SUPERVISOR" slurm resubmit slow 2>>submit.log)
array=$(grep "^job $job:" slow/submissions.log | grep -o -- "--array=[^' ]*")
wait_array "$job" 90 || fail "the resubmitted job $job ends within 90 s"
"$SUPERVISOR" status slow >/dev/null
code=$?
check "resubmit ($array) finishes shard 1: status exit $code" test "$array|$code" == "--array=1|0"
twice=$(ok_twice slow)
check "no job recorded ok twice ($twice jobs twice)" test "$twice" == 0
