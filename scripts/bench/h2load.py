"""h2load against a bare sync no-op (the transport authzd ran on), a bare
grpc.aio no-op and authzd, interleaved; server CPU per call from /proc.
h2load counts HTTP 200s whatever the grpc-status, so authzd's answers are
verified by its decision counters: exactly one ALLOWED per call sent. And
admin reads while CheckAccess runs at full load."""

from __future__ import annotations

import re
import statistics
import threading
import time
import urllib.request
from functools import partial
from typing import Any

import grpc
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import authorization_service_pb2_grpc as auth_grpc
from authzd.v1 import types_pb2

from scripts.bench import h2load_driver
from scripts.bench.common import (
    Context,
    Fixture,
    LoadResult,
    Row,
    check_request,
    in_rounds,
    median_result,
    row,
    warm,
)
from scripts.bench.noop import noop_server
from scripts.bench.procs import Server, authzd_server

H2_PATH = "/authzd.v1.AccessService/CheckAccess"


def allowed_frame(fx: Fixture) -> tuple[tuple[str, str, str, int, bool], bytes]:
    """The fixture's first allowed check, and its request as one gRPC frame."""
    check = next(c for c in fx.checks if c[4])
    return check, h2load_driver.grpc_frame(check_request(*check[:4]).SerializeToString())


def run_h2load(target: str, frame: bytes, **options: Any) -> h2load_driver.H2Result:
    return h2load_driver.run(f"http://{target}{H2_PATH}", frame, **options)


def as_result(r: h2load_driver.H2Result) -> LoadResult:
    """wrong: the calls sent that did not answer HTTP 200."""
    return LoadResult(r.calls_per_s, r.p50_ms, r.p99_ms, r.requests - r.succeeded)


def decisions(metrics_port: int) -> dict[str, float]:
    """CheckAccess's authzd_decisions_total by reason, from the server's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    pattern = r'^authzd_decisions_total\{reason="(\w+)",source="CheckAccess"\} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.M)}


def admin_latencies(target: str, fx: Fixture, until: threading.Event) -> list[float]:
    """GetAuthorization, one after another, until `until` is set."""
    md = (("authorization", f"Token {fx.operator_token}"),)
    out: list[float] = []
    with grpc.insecure_channel(target) as ch:
        auths = auth_grpc.AuthorizationServiceStub(ch)
        perm = types_pb2.Permission(
            action=types_pb2.ACTION_READ,
            resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_ORGS, id=fx.org_ids[0]),
        )
        created = auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org_id=fx.org_ids[0], permissions=[perm]),
            metadata=md,
        )
        get = auth_pb.GetAuthorizationRequest(id=created.authorization.id)
        while not until.is_set():
            t0 = time.perf_counter()
            auths.GetAuthorization(get, metadata=md, timeout=10)
            out.append(time.perf_counter() - t0)
    return out


def run(ctx: Context) -> list[Row]:
    if not h2load_driver.available():
        raise RuntimeError("h2load is missing (apt-get install nghttp2-client; scripts/test.sh)")
    fx, rounds, requests = ctx.fx_big, ctx.sizes.rounds, ctx.sizes.h2_requests
    _, frame = allowed_frame(fx)
    authzd_proc = authzd_server(fx.db, "--metrics-listen", "127.0.0.1:0")
    metrics_port = authzd_proc.metrics_port  # logged as serving_metrics
    servers: dict[str, Server] = {
        "sync": noop_server(),
        "aio": noop_server(aio=True),
        "authzd": authzd_proc,
    }
    cpu: dict[str, list[float]] = {k: [] for k in servers}
    sent = {k: 0 for k in servers}

    def measure(name: str) -> LoadResult:
        pid = servers[name].proc.pid
        c0 = h2load_driver.cpu_seconds(pid)
        r = run_h2load(servers[name].target, frame, requests=requests)
        cpu[name].append((h2load_driver.cpu_seconds(pid) - c0) / r.requests)
        sent[name] += r.requests
        return as_result(r)

    try:
        authzd = servers["authzd"]
        warm(authzd.target, fx)
        before = decisions(metrics_port)
        # interleaved, so drift hits all alike
        res = {k: median_result(v) for k, v in in_rounds(
            rounds, {name: partial(measure, name) for name in servers}).items()}
        one = {
            name: run_h2load(servers[name].target, frame, requests=max(200, requests // 10),
                             clients=1, streams=1)
            for name in ("aio", "authzd")
        }
        moved = {k: v - before.get(k, 0) for k, v in decisions(metrics_port).items()}
        allowed = sent["authzd"] + one["authzd"].requests
        answered_wrong = abs(moved.get("ALLOWED", 0) - allowed) + sum(
            v for k, v in moved.items() if k != "ALLOWED"
        )
        wrong = sum(r.wrong for r in res.values()) + int(answered_wrong)
        # Admin reads while CheckAccess runs at full load.
        until = threading.Event()

        def full_load() -> None:
            run_h2load(authzd.target, frame, requests=requests)
            until.set()

        load = threading.Thread(target=full_load)
        load.start()
        admin = sorted(admin_latencies(authzd.target, fx, until))
        load.join()
    finally:
        for server in servers.values():
            server.stop()

    cpu_us = {k: statistics.median(v) * 1e6 for k, v in cpu.items()}
    a, noop_aio, noop_sync = res["authzd"], res["aio"], res["sync"]
    return [
        row("h2load: bare grpc sync no-op, 16 threads (reference)", noop_sync,
            server_cpu_us_per_call=cpu_us["sync"]),
        row("h2load: bare grpc.aio no-op (reference)", noop_aio,
            server_cpu_us_per_call=cpu_us["aio"]),
        row("h2load: CheckAccess server CPU per call / aio no-op's", a,
            ratio=cpu_us["authzd"] / cpu_us["aio"], target="<= 1.10",
            server_cpu_us_per_call=cpu_us["authzd"], wrong=wrong,
            h2load=f"-n {requests} -c 4 -m 16 -t 1, {rounds} rounds"),
        row("h2load: CheckAccess throughput / sync no-op's", throughput=a.throughput,
            ratio=a.throughput / noop_sync.throughput, target=">= 1.25"),
        row("h2load: CheckAccess throughput / aio no-op's", throughput=a.throughput,
            ratio=a.throughput / noop_aio.throughput, target=">= 0.90"),
        row("h2load: CheckAccess p99 at 64 in flight / aio no-op's", p99_ms=a.p99_ms,
            ratio=a.p99_ms / noop_aio.p99_ms, target="<= 1.25"),
        row("h2load: CheckAccess p50 at 1 in flight / aio no-op's",
            throughput=one["authzd"].calls_per_s, p50_ms=one["authzd"].p50_ms,
            ratio=one["authzd"].p50_ms / one["aio"].p50_ms, target="<= 1.10",
            aio_noop_p50_ms=one["aio"].p50_ms),
        row("admin GetAuthorization while CheckAccess runs at full load (h2load)",
            p50_ms=admin[len(admin) // 2] * 1000,
            p99_ms=admin[min(len(admin) - 1, int(len(admin) * 0.99))] * 1000,
            target="p99 <= 50 ms", calls=len(admin)),
    ]
