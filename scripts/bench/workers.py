"""`--workers 2` against `--workers 1` (groups on port 0: the supervisor picks
the port its workers share, SO_REUSEPORT): with two grpc.aio load processes,
and under h2load with 2 threads. The same 2 cores run the load."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from authzd.v1 import access_service_pb2_grpc as access_grpc

from scripts.bench import h2load
from scripts.bench.common import (
    Context,
    Fixture,
    LoadResult,
    Row,
    T,
    check_request,
    drive,
    in_rounds,
    median_result,
    row,
)
from scripts.bench.procs import ServeProcess, authzd_server


def per_group(fx: Fixture, rounds: int, measure: Callable[[ServeProcess], T]) -> dict[str, list[T]]:
    """`measure` on a fresh group of 1 and of 2 workers, in turn, each round."""

    def group(workers: int) -> Callable[[], T]:
        def run() -> T:
            # Port 0: the supervisor picks the port its workers share.
            server = authzd_server(fx.db, "--workers", str(workers))
            try:
                return measure(server)
            finally:
                server.stop()

        return run

    return in_rounds(rounds, {"1": group(1), "2": group(2)})


def run(ctx: Context) -> list[Row]:
    s = ctx.sizes
    res = per_group(ctx.fx_big, s.side_rounds,
                    lambda server: drive(server.target, ctx.checks_big, s.duration, clients=2))
    one, two = median_result(res["1"]), median_result(res["2"])
    return [row("2 workers vs 1 (2 load processes, same 2 cores)", two,
                ratio=two.throughput / one.throughput, target="reported",
                one_worker_throughput=one.throughput, wrong=one.wrong + two.wrong)]


def run_h2load(ctx: Context) -> list[Row]:
    """h2load -t 2 (8 connections, spread over the workers by SO_REUSEPORT)."""
    s = ctx.sizes
    check, frame = h2load.allowed_frame(ctx.fx_big)

    def measure(server: ServeProcess) -> LoadResult:
        r = h2load.as_result(h2load.run_h2load(server.target, frame, requests=s.h2_requests,
                                               clients=8, streams=16, threads=2))
        with grpc.insecure_channel(server.target) as ch:  # a sampled answer
            r.wrong += not access_grpc.AccessServiceStub(ch).CheckAccess(
                check_request(*check[:4])).allowed
        return r

    res = per_group(ctx.fx_big, s.side_rounds, measure)
    one, two = median_result(res["1"]), median_result(res["2"])
    return [row("h2load: --workers 2 throughput / --workers 1 (h2load -t 2)", two,
                ratio=two.throughput / one.throughput, target="reported",
                one_worker_throughput=one.throughput, wrong=one.wrong + two.wrong)]
