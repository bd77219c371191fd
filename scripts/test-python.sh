#!/usr/bin/env bash
# The Python package's tests: builds and installs it into .venv-py
# (scripts/setup-python.sh), then runs pytest on python/tests with real worker
# processes. Arguments go to pytest (e.g. -k resume). pytest's exit code is
# the script's, so "no tests collected" (5) fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python.sh
venv="${PROCMAP_PY_VENV:-.venv-py}"
# From the repository root, so that python/procmap (the sources, without the
# extension) does not shadow the installed package.
exec "$venv/bin/python" -m pytest -q python/tests "$@"
