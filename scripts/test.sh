#!/usr/bin/env bash
# The whole test suite: unit tests of every crate, then the integration
# tests that run the real binaries (tests/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace
