"""A load-generator process (common.drive starts one or more):

    python -m scripts.bench.load --target HOST:PORT --checks FILE --duration S \
        [--concurrency N] [--batch N] [--mode access|ext_authz|http] --out FILE

`concurrency` workers call in a loop, first for a warm-up, then for `duration`
seconds measured; every answer is checked against the expected one. The
result (elapsed, latencies, calls, decisions, wrong) is written to --out as
JSON. In access and ext_authz modes the checks file holds the fixture's checks
(token, org, bucket, action, allowed); in http mode it holds [path, token,
allowed] requests sent through Envoy, where an allowed request must answer 200
and any other anything else (401 or 403)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import access_service_pb2_grpc as access_grpc
from authzd.v1 import types_pb2

from scripts.bench.common import check_request
from scripts.bench.upstream import read_message

# One call: the index of the request to send -> (decisions, wrong answers).
Call = Callable[[int], Awaitable[tuple[int, int]]]
# A worker's connection for one phase (warm-up, measure): yields its Call.
Session = Callable[[], contextlib.AbstractAsyncContextManager[Call]]


async def measure(session: Session, duration: float, concurrency: int) -> dict[str, Any]:
    """Workers i = 0..concurrency-1 send requests i, i + concurrency, ... for a
    warm-up of min(1 s, duration / 3), then again for `duration` measured."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counters = {"calls": 0, "decisions": 0, "wrong": 0}
    measuring = False
    end = 0.0

    async def worker(i: int) -> None:
        async with session() as call:
            idx = i
            while loop.time() < end:
                t0 = time.perf_counter()
                n, wrong = await call(idx)
                dt = time.perf_counter() - t0
                if measuring:
                    latencies.append(dt)
                    counters["calls"] += 1
                    counters["decisions"] += n
                counters["wrong"] += wrong
                idx += concurrency

    end = loop.time() + min(1.0, duration / 3)
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    measuring = True
    start = time.perf_counter()
    end = loop.time() + duration
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return {"elapsed": time.perf_counter() - start, "latencies": latencies, **counters}


def ext_check_request(token: str, org_id: str, bucket_id: str, action: int) -> Any:
    """The same check as Envoy would ask it: the permission in the route's context
    extension, the token in the authorization header."""
    from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb

    req = ext_pb.CheckRequest()
    http = req.attributes.request.http
    http.method, http.path, http.host = "POST", "/api/v2/write", "127.0.0.1"
    http.headers["authorization"] = f"Token {token}"
    http.headers["user-agent"] = "bench"
    verb = "read" if action == types_pb2.ACTION_READ else "write"
    req.attributes.context_extensions["authzd_permission"] = (
        f"{verb}:orgs/{org_id}/buckets/{bucket_id}"
    )
    return req


def grpc_call(ch: grpc.aio.Channel, checks: list[list[Any]], batch: int, mode: str) -> Call:
    """CheckAccess, BatchCheckAccess (batch > 0) or Envoy's Check (ext_authz)."""
    stub = access_grpc.AccessServiceStub(ch)
    reqs = [check_request(*c[:4]) for c in checks]
    expected = [c[4] for c in checks]

    if batch:
        groups = [reqs[i : i + batch] for i in range(0, len(reqs) - batch + 1, batch)]
        batches = [access_pb.BatchCheckAccessRequest(checks=g) for g in groups]

        async def batch_call(idx: int) -> tuple[int, int]:
            k = idx % len(batches)
            resp = await stub.BatchCheckAccess(batches[k])
            base = k * batch
            wrong = sum(r.allowed != expected[base + j] for j, r in enumerate(resp.results))
            return len(resp.results), wrong

        return batch_call
    if mode == "ext_authz":
        from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb

        ext_call = ch.unary_unary(
            "/envoy.service.auth.v3.Authorization/Check",
            request_serializer=ext_pb.CheckRequest.SerializeToString,
            response_deserializer=ext_pb.CheckResponse.FromString,
        )
        ext_reqs = [ext_check_request(*c[:4]) for c in checks]

        async def check_call(idx: int) -> tuple[int, int]:
            k = idx % len(ext_reqs)
            resp = await ext_call(ext_reqs[k])
            return 1, int((resp.status.code == 0) != expected[k])

        return check_call

    async def access_call(idx: int) -> tuple[int, int]:
        k = idx % len(reqs)
        resp = await stub.CheckAccess(reqs[k])
        return 1, int(resp.allowed != expected[k])

    return access_call


async def load_grpc(target: str, checks: list[list[Any]], duration: float,
                    concurrency: int, batch: int, mode: str) -> dict[str, Any]:
    """All workers share one channel."""
    async with grpc.aio.insecure_channel(target) as ch:
        call = grpc_call(ch, checks, batch, mode)
        return await measure(lambda: contextlib.nullcontext(call), duration, concurrency)


async def load_http(target: str, requests: list[list[Any]], duration: float,
                    concurrency: int) -> dict[str, Any]:
    """Keep-alive GETs, one connection per worker."""
    host, _, port = target.rpartition(":")

    @contextlib.asynccontextmanager
    async def session() -> AsyncIterator[Call]:
        reader, writer = await asyncio.open_connection(host, int(port))

        async def get(idx: int) -> tuple[int, int]:
            path, token, want = requests[idx % len(requests)]
            writer.write(f"GET {path} HTTP/1.1\r\nhost: bench\r\n"
                         f"authorization: Token {token}\r\n\r\n".encode())
            await writer.drain()
            status = int((await read_message(reader)).split(b" ", 2)[1])
            return 1, int((status == 200) != want)

        try:
            yield get
        finally:
            writer.close()

    return await measure(session, duration, concurrency)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--target", "--checks", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--mode", choices=["access", "ext_authz", "http"], default="access")
    args = p.parse_args()
    checks = json.loads(Path(args.checks).read_text())
    if args.mode == "http":
        run = load_http(args.target, checks, args.duration, args.concurrency)
    else:
        run = load_grpc(args.target, checks, args.duration, args.concurrency, args.batch,
                        args.mode)
    Path(args.out).write_text(json.dumps(asyncio.run(run)))


if __name__ == "__main__":
    main()
