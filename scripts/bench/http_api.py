"""The HTTP API must not slow CheckAccess: unary CheckAccess quiet, then while
two HTTP clients make 200 admin reads/s in all (interleaved rounds); and the
latency of listing 100 tokens over HTTP. (Named http_api: `http` is stdlib's.)"""

from __future__ import annotations

import collections
import statistics
import threading
import time

from scripts.bench.common import (
    Context,
    LoadResult,
    Row,
    drive,
    interleaved,
    p50_p99_ms,
    row,
    token_count,
    warm,
)
from scripts.bench.procs import authzd_server

READS_PER_S = 100.0  # per client; two clients


def http_reads(url: str, token: str, rate: float, stop: threading.Event,
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


def while_reading(ctx: Context) -> Row:
    fx, s = ctx.fx_big, ctx.sizes
    server = authzd_server(fx.db, "--http-listen", "127.0.0.1:0")
    served: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()

    def loaded() -> LoadResult:
        stop = threading.Event()
        readers = [threading.Thread(target=http_reads, args=(
            server.http_url, fx.operator_token, READS_PER_S, stop, statuses)) for _ in range(2)]
        before = sum(statuses.values())
        t0 = time.perf_counter()
        for t in readers:
            t.start()
        result = drive(server.target, ctx.checks_big, s.duration)
        stop.set()
        for t in readers:
            t.join()
        served.append((sum(statuses.values()) - before) / (time.perf_counter() - t0))
        return result

    try:
        warm(server.target, fx)
        res = interleaved(s.side_rounds, {
            "quiet": lambda: drive(server.target, ctx.checks_big, s.duration),
            "loaded": loaded,
        })
    finally:
        server.stop()
    q, load = res["quiet"], res["loaded"]
    return row("unary CheckAccess while HTTP serves 200 admin reads/s (vs quiet)", load,
               ratio=load.throughput / q.throughput, target=">= 0.90",
               quiet_throughput=q.throughput, http_reads_per_s=statistics.median(served),
               wrong=q.wrong + load.wrong + sum(n for st, n in statuses.items() if st != 200))


def list_tokens(ctx: Context) -> Row:
    import httpx

    fx, duration = ctx.fx_small, ctx.sizes.duration
    n = token_count(fx)
    server = authzd_server(fx.db, "--http-listen", "127.0.0.1:0")
    latencies: list[float] = []
    wrong = 0
    try:
        with httpx.Client(base_url=server.http_url, timeout=10,
                          headers={"Authorization": f"Token {fx.operator_token}"}) as c:
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
        server.stop()
    p50, p99 = p50_p99_ms(sorted(latencies))
    return row(f"HTTP GET /api/v2/authorizations, {n} tokens (one client)",
               throughput=len(latencies) / elapsed, p50_ms=p50, p99_ms=p99,
               target="reported", wrong=wrong)


def run(ctx: Context) -> list[Row]:
    return [while_reading(ctx), list_tokens(ctx)]
