#!/usr/bin/env bash
# Pixel parity of the image tasks with the Python code they replace (numpy,
# Pillow, OpenCV): see scripts/parity.py. Idempotent: reuses the virtualenv
# when its pinned packages are already installed.
#
#   PARITY_VENV   virtualenv directory (default .venv-parity)
#   PARITY_PYTHON interpreter that creates it (default python3.11, else python3)
#   SUPERVISOR    use this supervisor binary instead of building one
#   PARITY_KEEP=1 keep the temporary inputs and outputs
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh

venv="${PARITY_VENV:-.venv-parity}"
python="${PARITY_PYTHON:-$(command -v python3.11 || command -v python3)}"
# The versions the formulas were measured against (see the image notes).
requirements="numpy==2.4.*
tifffile==2026.3.*
imagecodecs==2026.3.*
scikit-image==0.26.*
Pillow==13.0.*
opencv-python-headless==5.0.*
matplotlib==3.*"

ensure_venv "$venv" "$python" "$requirements"

if [ -n "${SUPERVISOR:-}" ]; then
  echo "== using SUPERVISOR=$SUPERVISOR"
else
  echo "== cargo build --release --bins"
  cargo build --release --bins
fi

echo "== scripts/parity.py"
exec "$venv/bin/python" scripts/parity.py
