"""n tokens (1,000,000 in the full run): the server's RSS once every token is
compiled (preload), and the time from start to SERVING; a sample of answers
checked."""

from __future__ import annotations

import os
import time

import grpc
from authzd.v1 import access_service_pb2_grpc as access_grpc

from scripts.bench.common import Context, Row, build_fixture, check_request, row
from scripts.bench.procs import authzd_server, rss_mib


def run(ctx: Context) -> list[Row]:
    n = ctx.sizes.million
    t0 = time.time()
    fx = build_fixture(os.path.join(ctx.workdir, "million.db"), n, 100, n_checks=200)
    built = time.time() - t0
    t0 = time.time()
    server = authzd_server(fx.db, "--cache-size", str(n + 1_000), timeout=1800)
    try:
        start_s = time.time() - t0
        rss = rss_mib(server.proc.pid)
        wrong = 0
        with grpc.insecure_channel(server.target) as ch:
            stub = access_grpc.AccessServiceStub(ch)
            for token, org, bucket, action, allowed in fx.checks[:200]:
                answer = stub.CheckAccess(check_request(token, org, bucket, action))
                wrong += answer.allowed != allowed
    finally:
        server.stop()
    os.unlink(fx.db)
    return [row(f"{n:,} tokens: RSS after preload; start to SERVING",
                rss_mib=round(rss), start_to_serving_s=round(start_s, 1),
                fixture_build_s=round(built, 1), bytes_per_token=round(rss * 1024 * 1024 / n),
                target="<= 1.5 GiB; <= 60 s", wrong=wrong)]
