"""Shared fixtures: a real authzd server on port 0 with real channels."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from argon2 import PasswordHasher
from authzd.v1 import (
    access_service_pb2_grpc,
    authorization_service_pb2_grpc,
    bucket_service_pb2_grpc,
    config_service_pb2_grpc,
    organization_service_pb2_grpc,
    session_service_pb2_grpc,
    setup_service_pb2,
    setup_service_pb2_grpc,
    user_service_pb2_grpc,
)
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service.app.clock import FakeClock
from service.server import Server, build_server
from service.settings import Settings

# Cheap argon2 parameters for tests only (production uses argon2-cffi's defaults).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-1"


def md(token: str, scheme: str = "Token") -> tuple[tuple[str, str], ...]:
    """Call metadata carrying a caller token."""
    return (("authorization", f"{scheme} {token}"),)


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo detail of a failed call (fails the test if absent)."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"no status details on {err!r}"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError(f"no ErrorInfo in {err!r}")


def reason_of(err: grpc.RpcError) -> str:
    info = error_info(err)
    assert info.domain == "authzd"
    return info.reason


@dataclass
class Client:
    """Stubs for every service on one channel."""

    channel: grpc.Channel
    access: access_service_pb2_grpc.AccessServiceStub
    auths: authorization_service_pb2_grpc.AuthorizationServiceStub
    users: user_service_pb2_grpc.UserServiceStub
    orgs: organization_service_pb2_grpc.OrganizationServiceStub
    buckets: bucket_service_pb2_grpc.BucketServiceStub
    setup: setup_service_pb2_grpc.SetupServiceStub
    sessions: session_service_pb2_grpc.SessionServiceStub
    config: config_service_pb2_grpc.ConfigServiceStub

    @classmethod
    def connect(cls, target: str) -> Client:
        ch = grpc.insecure_channel(target)
        return cls(
            ch,
            access_service_pb2_grpc.AccessServiceStub(ch),
            authorization_service_pb2_grpc.AuthorizationServiceStub(ch),
            user_service_pb2_grpc.UserServiceStub(ch),
            organization_service_pb2_grpc.OrganizationServiceStub(ch),
            bucket_service_pb2_grpc.BucketServiceStub(ch),
            setup_service_pb2_grpc.SetupServiceStub(ch),
            session_service_pb2_grpc.SessionServiceStub(ch),
            config_service_pb2_grpc.ConfigServiceStub(ch),
        )


@dataclass
class Running:
    server: Server
    port: int
    client: Client
    clock: FakeClock
    db_path: str

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def backend(self) -> str:
        return "postgresql" if self.server.app.settings.database_url else "sqlite"

    @property
    def database_url(self) -> str:
        return self.server.app.settings.database_url

    @property
    def location(self) -> dict[str, str]:
        """The store_location this server runs on (for raw_connection)."""
        return {"database_url": self.database_url} if self.database_url else {"db": self.db_path}

    @property
    def store_args(self) -> list[str]:
        """The CLI flags naming this server's store (recovery, backup)."""
        if self.database_url:
            return ["--database-url", self.database_url]
        return ["--db", self.db_path]

    @property
    def store_env(self) -> dict[str, str]:
        """The environment naming this server's store, instead of store_args."""
        if self.database_url:
            return {"AUTHZD_DATABASE_URL": self.database_url}
        return {"AUTHZD_DB": self.db_path}

    def snapshot(self) -> tuple[int, dict[str, int]]:
        """(revision, row counts): equal before and after means nothing was written."""
        store = self.server.app.store
        return store.revision(), store.counts()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# The store suites run on every backend listed here (CI: both). PostgreSQL is
# the machine's server; each test run creates a database of its own and drops it.
BACKENDS = [b for b in os.environ.get("AUTHZD_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_ADMIN_URL = os.environ.get("AUTHZD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def new_pg_database() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped on exit. Fails, not
    skips, when PostgreSQL is unreachable: CI has it. Only a run that leaves
    PostgreSQL out of AUTHZD_TEST_BACKENDS skips what needs it."""
    import psycopg2

    if "postgresql" not in BACKENDS:
        pytest.skip("AUTHZD_TEST_BACKENDS leaves PostgreSQL out")
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    name = f"authzd_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The PostgreSQL database of this test run; tests empty it (reset_pg) rather
    than make their own, which would cost a CREATE DATABASE each."""
    with new_pg_database() as url:
        yield url


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, without even the schema: for
    what happens on first start (migrations, recovery refusing it)."""
    with new_pg_database() as url:
        yield url


def raw_connection(location: dict[str, str]) -> Any:
    """A DB-API connection to the store at `location` (a `store_location`) that
    bypasses the store: what another process would see. Autocommit on both, so
    every statement reads the latest committed state."""
    if location.get("database_url"):
        import psycopg2

        conn = psycopg2.connect(location["database_url"])
        conn.autocommit = True
        return conn
    return sqlite3.connect(location["db"], isolation_level=None)


def raw_query(location: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    """Rows of one statement run on a connection of its own (see raw_connection)."""
    conn = raw_connection(location)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []
    finally:
        conn.close()


def reset_pg(url: str) -> None:
    """Empty every table (the schema stays): a fresh store for the next test.
    Every table a migration made, so a new one needs no change here."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('schema_migration', 'revision')"
        )
        tables = [f'"{t}"' for (t,) in cur.fetchall()]
        if tables:
            cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cur.execute("UPDATE revision SET value = 0")
    conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:  # type: ignore[no-untyped-def]
    return str(request.param)


# Pins for tests that use a store: `sqlite_only` where the backend does not
# matter to what is tested (why run it twice) or where only SQLite has the thing
# tested; `postgresql_only` for what only PostgreSQL has (skipped only by a run
# that leaves PostgreSQL out of AUTHZD_TEST_BACKENDS).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def store_location(backend, tmp_path, request) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Settings keywords for a fresh, empty store on the test's backend."""
    if backend == "sqlite":
        return {"db": str(tmp_path / "authzd.db")}
    url = request.getfixturevalue("pg_database")
    reset_pg(url)
    return {"database_url": url, "db": ""}


@pytest.fixture
def running(store_location, clock) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    """A started server on a fresh store (each backend), with a movable clock."""
    db_path = store_location.get("db", "")
    settings = Settings(listen="127.0.0.1:0", **store_location)
    server, port = build_server(settings, clock=clock, hasher=FAST_HASHER)
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    try:
        yield Running(server, port, client, clock, db_path)
    finally:
        client.channel.close()
        server.stop(0)


@dataclass
class Admin:
    """What Setup created: the Operator token and the first user/org/bucket."""

    token: str
    user_id: str
    org_id: str
    bucket_id: str
    authorization_id: str


@pytest.fixture
def client(running: Running) -> Client:
    return running.client


@pytest.fixture
def admin(client: Client) -> Admin:
    return setup_admin(client)


def setup_admin(client: Client) -> Admin:
    """Setup: the Operator token, user, org "acme" and bucket "telemetry"."""
    r = client.setup.Setup(
        setup_service_pb2.SetupRequest(
            username=ADMIN_USER, password=ADMIN_PASSWORD, org="acme", bucket="telemetry"
        )
    )
    return Admin(r.token, r.user.id, r.organization.id, r.bucket.id, r.authorization.id)
