#!/usr/bin/env bash
# The whole test suite: unit tests of every crate, the integration tests that
# run the real binaries (tests/), then pixel parity of the image tasks with
# numpy, Pillow and OpenCV (scripts/parity.sh, in a virtualenv it creates).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace
scripts/test-python.sh
scripts/test-slurm.sh  # a batch as a job array on a real single-node Slurm
scripts/parity.sh
