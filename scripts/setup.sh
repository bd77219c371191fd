#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain. Idempotent.
# Today that is only rustfmt and clippy, which rustup may not have added.
set -euo pipefail
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
