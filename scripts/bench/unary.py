"""Unary CheckAccess against the sync no-op servicer, on the big fixture and on
the small one (interleaved rounds, medians), and the servers' memory."""

from __future__ import annotations

from scripts.bench.common import Context, Row, drive_interleaved, label, row, warm
from scripts.bench.noop import noop_server
from scripts.bench.procs import authzd_server, rss_mib


def run(ctx: Context) -> list[Row]:
    fx_big, fx_small, s = ctx.fx_big, ctx.fx_small, ctx.sizes
    noop, big, small = noop_server(), authzd_server(fx_big.db), authzd_server(fx_small.db)
    try:
        warm(big.target, fx_big)
        warm(small.target, fx_small)
        res = drive_interleaved(s.rounds, s.duration, {
            "noop": (noop.target, ctx.checks_big),
            "big": (big.target, ctx.checks_big),
            "small": (small.target, ctx.checks_small),
        })
        rss_big, rss_small = rss_mib(big.proc.pid), rss_mib(small.proc.pid)
    finally:
        for p in (noop, big, small):
            p.stop()
    n, b, sm = res["noop"], res["big"], res["small"]
    return [
        row("unary no-op servicer (reference)", n),
        row(f"unary CheckAccess, {label(fx_big)} (vs no-op)", b,
            ratio=b.throughput / n.throughput, target=">= 0.90",
            p99_ratio=b.p99_ms / n.p99_ms, p99_target="<= 1.25", wrong=b.wrong,
            checks=len(fx_big.checks)),
        row(f"unary CheckAccess, {label(fx_small)}: p50 of big / small", sm,
            ratio=b.p50_ms / sm.p50_ms, target="<= 1.10", wrong=sm.wrong),
        row(f"server RSS MiB, {label(fx_big)} warm vs {label(fx_small)}",
            ratio=rss_big / rss_small, rss_big_mib=rss_big, rss_small_mib=rss_small,
            target="bounded"),
    ]
