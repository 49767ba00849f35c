#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need into
# .venv (Python) and tests/node/node_modules (Node.js), then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

# h2load (Debian nghttp2-client) drives the benchmark's unary rows: a load
# generator that leaves the CPU to the server. Installed as root when missing.
if ! command -v h2load >/dev/null; then
    apt-get install -y --no-install-recommends nghttp2-client >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends nghttp2-client >/dev/null; }
fi

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
exec .venv/bin/python -m pytest "$@"
