"""CheckAccess with tracing on (spans made and dropped: OTEL_TRACES_EXPORTER=none)
at two sampling ratios, against tracing off, interleaved."""

from __future__ import annotations

from scripts.bench.common import Context, Row, drive_interleaved, row, warm
from scripts.bench.procs import authzd_server

RATIOS = ("1.0", "0.01")


def run(ctx: Context) -> list[Row]:
    fx, s = ctx.fx_big, ctx.sizes
    servers = {"off": authzd_server(fx.db)}
    for ratio in RATIOS:
        servers[ratio] = authzd_server(fx.db, "--otel", env={
            "OTEL_TRACES_EXPORTER": "none", "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": ratio,
        })
    try:
        for server in servers.values():
            warm(server.target, fx)
        res = drive_interleaved(s.side_rounds, s.duration, {
            k: (server.target, ctx.checks_big) for k, server in servers.items()
        })
    finally:
        for server in servers.values():
            server.stop()
    off = res["off"]
    return [
        row(f"unary CheckAccess, tracing on, sampler ratio {k} (vs off)", res[k],
            ratio=res[k].throughput / off.throughput, target="reported",
            off_throughput=off.throughput,
            wrong=res[k].wrong + (off.wrong if k == RATIOS[0] else 0))
        for k in RATIOS
    ]
