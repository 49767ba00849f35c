"""Recovery with --database-url against PostgreSQL (skipped where none is reachable).

Uses the machine's PostgreSQL (trust auth on 127.0.0.1:5432; override with
AUTHZD_TEST_PG_URL) and a throwaway database per test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.server import build_server
from service.settings import Settings
from tests.cli.conftest import Cli, clean_env, token_in
from tests.conftest import FAST_HASHER

ADMIN_URL = os.environ.get("AUTHZD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_connection():  # type: ignore[no-untyped-def]
    import psycopg2

    try:
        conn = psycopg2.connect(ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"authzd_cli_{secrets.token_hex(4)}"
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


def test_recovery_on_postgres_drives_a_running_server(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, {**clean_env(home), "AUTHZD_DATABASE_URL": pg_url})

    # An empty database is not an authzd one: refused, and left empty.
    r = cli("recovery", "org", "list", ok=False)
    assert "holds no authzd database" in r.error

    server, port = build_server(Settings(database_url=pg_url, listen="127.0.0.1:0"),
                                hasher=FAST_HASHER)
    server.start()
    try:
        cli.env["AUTHZD_HOST"] = f"127.0.0.1:{port}"
        cli("setup", "--username", "admin", "--password", "admin-password-1", "--org", "acme",
            "--bucket", "telemetry")
        cli.config_path.unlink()  # every token lost
        r = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", "admin")
        token = token_in(r.stdout)
        listed = cli("auth", "list", "--json", "--token", token).json()
        assert len(listed) == 2
        assert [u["name"] for u in cli("recovery", "user", "list", "--json").json()] == ["admin"]
    finally:
        server.stop(0)
