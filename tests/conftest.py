"""Shared fixtures: a real authzd server on port 0 with real channels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def running(tmp_path, clock) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    """A started server on a fresh SQLite file, with a movable clock."""
    db_path = str(tmp_path / "authzd.db")
    settings = Settings(db=db_path, listen="127.0.0.1:0")
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
    r = client.setup.Setup(
        setup_service_pb2.SetupRequest(
            username=ADMIN_USER, password=ADMIN_PASSWORD, org="acme", bucket="telemetry"
        )
    )
    return Admin(r.token, r.user.id, r.organization.id, r.bucket.id, r.authorization.id)
