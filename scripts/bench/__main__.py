"""`python -m scripts.bench [--quick] [--only NAME ...] [--out FILE]`: see
scripts/bench/__init__.py."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from scripts import bench
from scripts.bench import (
    batch,
    cache_miss,
    casbin,
    envoy,
    ext_authz,
    h2load,
    http_api,
    million,
    postgres,
    revocation,
    tracing,
    unary,
    workers,
)
from scripts.bench.common import Context, Row, Sizes, build_fixture, print_table

# The run order; --only names a subset.
STEPS: list[tuple[str, Callable[[Context], list[Row]]]] = [
    ("h2load", lambda ctx: h2load.run(ctx) + workers.run_h2load(ctx)),
    ("unary", unary.run),
    ("batch", batch.run),
    ("workers", workers.run),
    ("casbin", casbin.run),
    ("ext_authz", ext_authz.run),
    ("tracing", tracing.run),
    ("envoy", envoy.run),
    ("revocation", revocation.run),
    ("miss", cache_miss.run),
    ("http", http_api.run),
    ("postgres", postgres.run),
    ("million", million.run),
]


def main() -> int:
    assert bench.__doc__ is not None
    parser = argparse.ArgumentParser(prog="python -m scripts.bench",
                                     description=bench.__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every scenario, small and short")
    parser.add_argument("--out", default="bench-results.json", help="where to write the JSON")
    parser.add_argument("--only", nargs="*", help="run only these scenarios: "
                        + ", ".join(name for name, _ in STEPS))
    args = parser.parse_args()
    sizes = Sizes.of(args.quick)
    want = set(args.only or [name for name, _ in STEPS])
    rows: list[Row] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="authzd-bench-") as workdir:
        t0 = time.time()
        fx_big = build_fixture(os.path.join(workdir, "big.db"), sizes.big, 100)
        fx_small = build_fixture(os.path.join(workdir, "small.db"), sizes.small, 10)
        print(f"fixtures built in {time.time() - t0:.1f}s", file=sys.stderr)
        ctx = Context(sizes, workdir, fx_big, fx_small,
                      fx_big.write_checks(os.path.join(workdir, "checks-big.json")),
                      fx_small.write_checks(os.path.join(workdir, "checks-small.json")))
        for name, step in STEPS:
            if name in want:
                t0 = time.time()
                rows += step(ctx)
                print(f"{name} done in {time.time() - t0:.1f}s", file=sys.stderr)
    print_table(rows)
    wrong = sum(int(r.get("wrong", 0) or 0) for r in rows)
    report = dict(
        quick=args.quick,
        cpus=os.cpu_count(),
        seconds=round(time.time() - started, 1),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=rows,
        wrong_answers=wrong,
    )
    with open(args.out, "w") as f:
        f.write(json.dumps(report, indent=2))
    print(f"\nwrong answers: {wrong}; total {report['seconds']}s; JSON: {args.out}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
