"""BatchCheckAccess throughput in decisions/s, and the same answers as unary
calls, compared one by one on a sample."""

from __future__ import annotations

import grpc
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import access_service_pb2_grpc as access_grpc

from scripts.bench.common import Context, Row, check_request, drive, row
from scripts.bench.procs import authzd_server

BATCH = 1000


def run(ctx: Context, batch: int = BATCH) -> list[Row]:
    fx = ctx.fx_big
    server = authzd_server(fx.db)
    try:
        r = drive(server.target, ctx.checks_big, ctx.sizes.duration, concurrency=4, batch=batch)
        with grpc.insecure_channel(server.target) as ch:
            stub = access_grpc.AccessServiceStub(ch)
            sample = [check_request(*c[:4]) for c in fx.checks[:batch]]
            batched = stub.BatchCheckAccess(access_pb.BatchCheckAccessRequest(checks=sample))
            differ = sum(
                stub.CheckAccess(q) != a for q, a in zip(sample, batched.results, strict=True)
            )
    finally:
        server.stop()
    return [row(f"BatchCheckAccess x{batch}, decisions/s", r, target=">= 300,000/s",
                wrong=r.wrong + differ, unary_batch_differences=differ)]
