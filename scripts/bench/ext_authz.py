"""Envoy's ext_authz Check against unary CheckAccess on the same server,
interleaved."""

from __future__ import annotations

from functools import partial

from scripts.bench.common import Context, Row, drive, interleaved, label, row, warm
from scripts.bench.procs import authzd_server


def run(ctx: Context) -> list[Row]:
    fx, s = ctx.fx_big, ctx.sizes
    server = authzd_server(fx.db)
    try:
        warm(server.target, fx)
        res = interleaved(s.side_rounds, {
            mode: partial(drive, server.target, ctx.checks_big, s.duration, mode=mode)
            for mode in ("access", "ext_authz")
        })
    finally:
        server.stop()
    a, e = res["access"], res["ext_authz"]
    return [row(f"ext_authz Check, {label(fx)} (vs unary CheckAccess, same server)", e,
                ratio=e.throughput / a.throughput, target=">= 0.80",
                check_access_throughput=a.throughput, wrong=e.wrong + a.wrong)]
