#!/usr/bin/env bash
# Creates the virtualenv of the Python package's tests (maturin, pytest, and
# numpy + scikit-image for seed 001's function), then builds the procmap
# package with maturin and installs it there: `pip install ./python`, with the
# build in this workspace's target/ directory. Idempotent; reuses the
# virtualenv when its pinned packages are already installed.
#
#   PROCMAP_PY_VENV  virtualenv directory (default .venv-py)
#   PROCMAP_PY_BASE  interpreter that creates it (default python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh

venv="${PROCMAP_PY_VENV:-.venv-py}"
python="${PROCMAP_PY_BASE:-$(command -v python3.11 || command -v python3)}"
requirements="maturin==1.16.*
pytest==8.4.*
pytest-timeout==2.4.*
numpy==2.4.*
scikit-image==0.26.*
tifffile==2026.3.*
imageio==2.38.*"

ensure_venv "$venv" "$python" "$requirements"

# Without build isolation pip uses the maturin pinned above (no download per
# build); maturin's build backend finds it on PATH.
echo "== pip install ./python (maturin, release build)"
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./python
