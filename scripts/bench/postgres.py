"""The same fixture on PostgreSQL (a database made for this run and dropped
after): warm CheckAccess throughput against SQLite, side by side, and the
cache-miss cost on PostgreSQL."""

from __future__ import annotations

import os

from scripts.bench import cache_miss
from scripts.bench.common import Context, Row, build_fixture, drive_interleaved, row, warm
from scripts.bench.procs import authzd_server

PG_ADMIN_URL = os.environ.get(
    "AUTHZD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def run(ctx: Context) -> list[Row]:
    import psycopg2

    s, fx_sqlite = ctx.sizes, ctx.fx_big
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    name = f"authzd_bench_{os.getpid()}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        fx_pg = build_fixture(url, s.big, 100)  # same seed: the same tokens and checks
        assert fx_pg.checks == fx_sqlite.checks
        pg, lite = authzd_server(fx_pg.db), authzd_server(fx_sqlite.db)
        try:
            warm(pg.target, fx_pg)
            warm(lite.target, fx_sqlite)
            res = drive_interleaved(s.side_rounds, s.duration, {
                "lite": (lite.target, ctx.checks_big),
                "pg": (pg.target, ctx.checks_big),
            })
        finally:
            pg.stop()
            lite.stop()
        p, q = res["pg"], res["lite"]
        return [
            row(f"unary CheckAccess on PostgreSQL vs SQLite, {s.big:,} tokens", p,
                ratio=p.throughput / q.throughput, target=">= 0.90",
                sqlite_throughput=q.throughput, wrong=p.wrong + q.wrong),
            cache_miss.measure(fx_pg, "PostgreSQL"),
        ]
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
