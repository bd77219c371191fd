#!/usr/bin/env bash
# Mutation testing of the code whose mistakes would lose or double jobs:
# the dispatcher's decisions (blame, chunk sizes, the feeder's claims, a
# worker's death), the journal's identity, resume and shard logic, and what
# `status`, `merge` and run directories say about a batch. cargo-mutants changes one
# thing at a time (a condition, a return value, an operator) and checks that
# some unit test fails. Scoped to the fast unit tests of the engine and
# procmap-batch, so
# a run takes minutes; not part of CI (scripts/test.sh).
#
#   scripts/mutants.sh            all the modules below
#   scripts/mutants.sh FILE...    only these files
#
# Results: mutants.out/ (caught.txt, missed.txt, ...). The score is
# caught ÷ (caught + missed); unviable mutants (that do not compile) and
# timeouts are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
  echo "== installing cargo-mutants $version"
  cargo install --locked cargo-mutants --version "$version"
fi
files=("$@")
if [ ${#files[@]} = 0 ]; then
  files=(
    crates/procmap/src/process/blame.rs
    crates/procmap/src/process/state.rs
    crates/procmap/src/process/aftermath.rs
    crates/procmap/src/input/handoff.rs
    crates/procmap/src/input/chunking.rs
    crates/procmap/src/input/mod.rs
    crates/procmap/src/input/admit.rs
    crates/procmap/src/input/source.rs
    crates/procmap-batch/src/identity.rs
    crates/procmap-batch/src/journal.rs
    crates/procmap-batch/src/occurrence.rs
    crates/procmap-batch/src/previous.rs
    crates/procmap-batch/src/resume.rs
    crates/procmap-batch/src/source.rs
    crates/procmap-batch/src/jobs.rs
    crates/procmap-batch/src/shard.rs
    crates/procmap-batch/src/ledger.rs
    crates/procmap-batch/src/rundir.rs
    crates/procmap-cli/src/status.rs
    crates/procmap-cli/src/merge.rs
  )
fi
args=()
for f in "${files[@]}"; do args+=(--file "$f"); done
# --lib: unit tests only; the integration tests run real processes and
# take minutes per mutant. The mutants profile (Cargo.toml) skips debug
# info, which halves the link. JOBS=1 on a shared machine.
cargo mutants --workspace --no-shuffle -j "${JOBS:-2}" --profile mutants "${args[@]}" -- --lib || true
caught=$(wc -l < mutants.out/caught.txt)
missed=$(wc -l < mutants.out/missed.txt)
echo "mutants: $caught caught, $missed missed: score $(awk -v c="$caught" -v m="$missed" 'BEGIN { printf "%.0f%%", 100 * c / (c + m) }')"
echo "survivors (mutants.out/missed.txt):"
sed 's/^/  /' mutants.out/missed.txt
