"""Server time of the first check of a token not in memory (no preload)."""

from __future__ import annotations

import statistics
import time

from scripts.bench.common import Context, Fixture, Row, open_fixture, row
from service.domain.permissions import Action, Permission, ResourceType


def measure(fx: Fixture, backend: str) -> Row:
    from service.app.access import AccessIndex
    from service.app.clock import SystemClock

    store = open_fixture(fx.db)
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
    return row(f"cache miss on {backend}, server time ({len(cold)} cold tokens)",
               p50_ms=statistics.median(cold) * 1000,
               p99_ms=cold[int(len(cold) * 0.99) - 1] * 1000,
               ratio=statistics.median(cold) / statistics.median(warm),
               warm_p50_ms=statistics.median(warm) * 1000, target="p99 <= 2 ms")


def run(ctx: Context) -> list[Row]:
    return [measure(ctx.fx_big, "SQLite")]
