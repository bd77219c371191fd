#!/usr/bin/env bash
# JPEG decode + resize per image, procmap against Pillow on the same files:
# see scripts/bench-jpeg.py. Uses the parity virtualenv (scripts/parity.sh
# creates it) and builds the release binaries unless SUPERVISOR is set.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PARITY_VENV:-.venv-parity}"
if [ ! -x "$venv/bin/python" ]; then
  echo "bench-jpeg: $venv missing; run scripts/parity.sh once to create it" >&2
  exit 2
fi
if [ -z "${SUPERVISOR:-}" ]; then
  cargo build --release --bins
fi
exec "$venv/bin/python" scripts/bench-jpeg.py
