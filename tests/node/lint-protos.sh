#!/bin/sh
# Lint the authzd protos with buf (protos/buf.yaml), using the buf binary that the
# npm package @bufbuild/buf installs here. Run `npm ci` in tests/node first.
# Exits non-zero when buf reports a lint failure or cannot run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
buf="$here/node_modules/.bin/buf"
protos="$here/../../protos"

if [ ! -x "$buf" ]; then
  echo "lint-protos: $buf not found; run 'npm ci' in $here first" >&2
  exit 2
fi

cd "$protos"
"$buf" --version >/dev/null
if "$buf" lint; then
  echo "lint-protos: buf lint passed ($(cd "$protos" && pwd)/buf.yaml)"
else
  status=$?
  echo "lint-protos: buf lint failed (exit $status)" >&2
  exit "$status"
fi
