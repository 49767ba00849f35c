#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need into
# .venv (Python) and tests/node/node_modules (Node.js), then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
# The web console's browser tests (tests/browser) drive Debian's chromium.
command -v chromium >/dev/null || { apt-get update && apt-get install -y --no-install-recommends chromium; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
exec .venv/bin/python -m pytest "$@"
