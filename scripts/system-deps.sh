#!/usr/bin/env bash
# The system tools the test suite needs, checked (and installed when missing) by
# scripts/test.sh before anything else:
#   systemd-analyze  (Debian package systemd)            tests/cli/test_deploy.py
#   openssl          (openssl)                           TLS/mTLS test certificates
#   psql, pg_dump    (postgresql-client)                 PostgreSQL tests, backups
#   node >= 20, npm  (not installed here: Debian 12's is 18; use nodejs.org or
#                     NodeSource)                        tests/polyglot
# Missing Debian packages are installed with apt-get when running as root (CI on
# a clean machine); otherwise the script names them and stops.
set -euo pipefail

need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if ! command -v psql >/dev/null 2>&1 || ! command -v pg_dump >/dev/null 2>&1; then
  need+=(postgresql-client)
fi

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/system-deps.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "scripts/system-deps.sh: missing system packages: ${need[*]}" \
      "(e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

node_major="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)"
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
  echo "scripts/system-deps.sh: Node.js >= 20 with npm is needed (found:" \
    "${node_major:-none}); install it from nodejs.org or NodeSource" >&2
  exit 1
fi
