#!/usr/bin/env bash
# The whole test suite, from a fresh clone: checks the system tools the tests
# use (scripts/system-deps.sh: systemd-analyze, openssl, psql/pg_dump, installed
# from Debian when missing and run as root; Node.js >= 20), installs what the
# tests need into .venv (Python) and tests/node/node_modules (Node.js), then runs
# pytest. Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-deps.sh

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
exec .venv/bin/python -m pytest "$@"
