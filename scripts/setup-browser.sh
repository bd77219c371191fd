#!/usr/bin/env bash
# Debian's headless Chromium, for the browser test of `supervisor report`
# (tests/report.rs renders a real run's page, screenshots it and reads its
# DOM). Idempotent and fast when it is there.
set -euo pipefail
for name in chromium-headless-shell chromium; do
  if command -v "$name" >/dev/null 2>&1; then
    echo "== headless browser present ($name)"
    exit 0
  fi
done
echo "== installing chromium-headless-shell"
# shellcheck source=scripts/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_install chromium-headless-shell
