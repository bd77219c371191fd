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
# The tests ported from CPython also run against the stdlib's own pools
# first (about 10 s): a test that no longer passes there has drifted from
# the behaviour it claims to port.
if [ $# -eq 0 ]; then
    echo "== the ported stdlib tests against the stdlib (PROCMAP_TEST_AGAINST=stdlib)"
    PROCMAP_TEST_AGAINST=stdlib "$venv/bin/python" -m pytest -q \
        python/tests/test_stdlib_pool.py python/tests/test_stdlib_executor.py
fi
exec "$venv/bin/python" -m pytest -q python/tests "$@"
