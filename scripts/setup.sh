#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain. Idempotent.
# rustfmt and clippy, which rustup may not have added; the Python packages
# of the parity check install themselves into a virtualenv (scripts/parity.sh).
set -euo pipefail
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
"$(dirname "$0")/setup-images.sh"
"$(dirname "$0")/setup-browser.sh"
