"""Limits (issue 5): request sizes, concurrent RPCs, deadlines.

Each excess is refused with RESOURCE_EXHAUSTED / INVALID_ARGUMENT / DEADLINE_EXCEEDED,
changes nothing, and leaves the server SERVING and answering. These are transport
properties, the same whatever the store: the servers here run on SQLite, with the
settings each test needs (a small concurrency limit, one worker thread, a hasher
that takes its time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from argon2 import PasswordHasher
from authzd.v1 import (
    access_service_pb2,
    organization_service_pb2,
    session_service_pb2,
    setup_service_pb2,
    types_pb2,
)

from service.app.clock import FakeClock
from service.server import build_server
from service.settings import Settings
from tests.conftest import Admin, Client, Running, error_info, md
from tests.serving import SERVING, health_status

USER, PASSWORD = "admin", "admin-password-1"
DEFAULTS = Settings()
CHECK_LIMIT = DEFAULTS.max_check_request_bytes
BATCH_LIMIT = DEFAULTS.max_batch_request_bytes
ADMIN_LIMIT = DEFAULTS.max_admin_request_bytes


class SlowVerify(PasswordHasher):
    """Cheap hashes, but each verification (a sign-in) takes `delay` seconds;
    counts how many run at once."""

    def __init__(self, delay: float) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.delay = delay
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.active -= 1


@contextmanager
def serving(tmp_path: Path, hasher: PasswordHasher, **settings: Any) -> Iterator[Running]:
    clock = FakeClock()
    db = str(tmp_path / "authzd.db")
    server, port = build_server(
        Settings(db=db, listen="127.0.0.1:0", **settings), clock=clock, hasher=hasher)
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    try:
        yield Running(server, port, client, clock, db)
    finally:
        client.channel.close()
        server.stop(0)


def _setup(client: Client) -> Admin:
    r = client.setup.Setup(setup_service_pb2.SetupRequest(
        username=USER, password=PASSWORD, org="acme", bucket="b"))
    return Admin(r.token, r.user.id, r.organization.id, r.bucket.id, r.authorization.id)


def _check(admin: Admin, token: str | None = None) -> access_service_pb2.CheckAccessRequest:
    return access_service_pb2.CheckAccessRequest(
        token=admin.token if token is None else token,
        permission=types_pb2.Permission(action=types_pb2.ACTION_READ, resource=types_pb2.Resource(
            type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=admin.org_id, id=admin.bucket_id)))


def _still_serving(running: Running, admin: Admin) -> None:
    assert health_status(running.client.channel) == SERVING
    assert running.client.access.CheckAccess(_check(admin), timeout=5).allowed


def _limit_exceeded(err: grpc.RpcError, limit: int) -> None:
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    info = error_info(err)
    assert info.reason == "ERROR_REASON_LIMIT_EXCEEDED"
    assert info.metadata["limit_bytes"] == str(limit)


def _sized_check(admin: Admin, size: int) -> access_service_pb2.CheckAccessRequest:
    """A CheckAccess request of exactly `size` serialized bytes (a long token)."""
    req = _check(admin, "")
    length = size - req.ByteSize()
    for _ in range(5):
        req.token = "x" * length
        if req.ByteSize() == size:
            return req
        length += size - req.ByteSize()
    raise AssertionError(f"cannot make a {size}-byte request")


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Running, Admin]]:
    with serving(tmp_path, SlowVerify(0)) as running:
        yield running, _setup(running.client)


# -- request sizes -------------------------------------------------------------


def test_check_access_takes_up_to_its_limit_and_refuses_more(
    limited: tuple[Running, Admin]
) -> None:
    running, admin = limited
    at_limit = running.client.access.CheckAccess(_sized_check(admin, CHECK_LIMIT))
    assert not at_limit.allowed
    assert at_limit.reason == access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN
    with pytest.raises(grpc.RpcError) as exc:
        running.client.access.CheckAccess(_sized_check(admin, CHECK_LIMIT + 1))
    _limit_exceeded(exc.value, CHECK_LIMIT)
    _still_serving(running, admin)


def test_batch_sized_for_10000_checks(limited: tuple[Running, Admin]) -> None:
    running, admin = limited
    batch = access_service_pb2.BatchCheckAccessRequest(checks=[_check(admin)] * 10_000)
    assert CHECK_LIMIT < batch.ByteSize() < BATCH_LIMIT
    results = running.client.access.BatchCheckAccess(batch, timeout=30).results
    assert len(results) == 10_000 and all(r.allowed for r in results)

    # More checks than a batch takes: INVALID_ARGUMENT, within the byte limit.
    batch.checks.append(_check(admin))
    with pytest.raises(grpc.RpcError) as exc:
        running.client.access.BatchCheckAccess(batch, timeout=30)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(exc.value).metadata["field"] == "checks"

    # Fewer checks but more bytes than the limit: RESOURCE_EXHAUSTED with ErrorInfo.
    big = access_service_pb2.BatchCheckAccessRequest(
        checks=[_sized_check(admin, 1000)] * (BATCH_LIMIT // 1000 + 1))
    assert big.ByteSize() > BATCH_LIMIT and len(big.checks) < 10_000
    with pytest.raises(grpc.RpcError) as exc:
        running.client.access.BatchCheckAccess(big, timeout=30)
    _limit_exceeded(exc.value, BATCH_LIMIT)
    _still_serving(running, admin)


def test_admin_requests_are_limited_before_anything_else(
    limited: tuple[Running, Admin]
) -> None:
    running, admin = limited
    before = running.snapshot()
    over = organization_service_pb2.CreateOrganizationRequest(
        name="big", description="d" * ADMIN_LIMIT)
    assert over.ByteSize() > ADMIN_LIMIT
    # Refused on size, with a valid token or none (size is checked first).
    for metadata in (md(admin.token), ()):
        with pytest.raises(grpc.RpcError) as exc:
            running.client.orgs.CreateOrganization(over, metadata=metadata)
        _limit_exceeded(exc.value, ADMIN_LIMIT)
    # Just under the limit it reaches the use case, which has its own rules.
    under = organization_service_pb2.CreateOrganizationRequest(
        name="big", description="d" * (ADMIN_LIMIT - 100))
    with pytest.raises(grpc.RpcError) as exc:
        running.client.orgs.CreateOrganization(under, metadata=md(admin.token))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(exc.value).metadata["field"] == "description"
    # Far past every limit (twice the largest) grpc itself refuses before
    # buffering it all: RESOURCE_EXHAUSTED, its own message, no ErrorInfo.
    huge = organization_service_pb2.CreateOrganizationRequest(
        name="big", description="d" * (2 * BATCH_LIMIT + 1))
    with pytest.raises(grpc.RpcError) as exc:
        running.client.orgs.CreateOrganization(huge, metadata=md(admin.token))
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert running.snapshot() == before
    _still_serving(running, admin)


# -- concurrent RPCs -----------------------------------------------------------


def test_rpcs_beyond_the_concurrency_limit_are_refused(tmp_path: Path) -> None:
    hasher = SlowVerify(0.5)
    with serving(tmp_path, hasher, max_concurrent_rpcs=2, threads=8) as running:
        admin = _setup(running.client)
        req = session_service_pb2.SignInRequest(username=USER, password=PASSWORD)
        calls = [running.client.sessions.SignIn.future(req, timeout=30) for _ in range(8)]
        codes = []
        for call in calls:
            try:
                call.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())
        assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
        assert 1 <= codes.count(grpc.StatusCode.OK) <= 2, codes
        assert hasher.peak <= 2
        # The limit frees up as calls finish.
        assert running.client.sessions.SignIn(req, timeout=30).user.name == USER
        _still_serving(running, admin)


# -- deadlines -----------------------------------------------------------------


def test_a_call_past_its_deadline_is_deadline_exceeded(tmp_path: Path) -> None:
    with serving(tmp_path, SlowVerify(0.5)) as running:
        admin = _setup(running.client)
        req = session_service_pb2.SignInRequest(username=USER, password=PASSWORD)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as exc:
            running.client.sessions.SignIn(req, timeout=0.1)
        assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 0.4  # the client was not kept waiting
        # A big batch with a deadline far too short for it.
        batch = access_service_pb2.BatchCheckAccessRequest(
            checks=[_check(admin, f"azt_{i:049d}") for i in range(10_000)])
        with pytest.raises(grpc.RpcError) as exc:
            running.client.access.BatchCheckAccess(batch, timeout=0.002)
        assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        _still_serving(running, admin)
        assert running.client.sessions.SignIn(req, timeout=30).user.name == USER


def test_a_write_whose_deadline_passed_in_the_queue_is_not_done(tmp_path: Path) -> None:
    """One worker thread, busy with a slow sign-in: a CreateOrganization queued
    behind it times out and must not be carried out once the worker is free
    (the client was told DEADLINE_EXCEEDED)."""
    with serving(tmp_path, SlowVerify(0.8), threads=1) as running:
        admin = _setup(running.client)
        busy = running.client.sessions.SignIn.future(
            session_service_pb2.SignInRequest(username=USER, password=PASSWORD), timeout=30)
        time.sleep(0.1)
        before = running.snapshot()
        with pytest.raises(grpc.RpcError) as exc:
            running.client.orgs.CreateOrganization(
                organization_service_pb2.CreateOrganizationRequest(name="late"),
                metadata=md(admin.token), timeout=0.2)
        assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert busy.result().user.name == USER
        time.sleep(0.2)  # the queued call would run now
        orgs = running.client.orgs.ListOrganizations(
            organization_service_pb2.ListOrganizationsRequest(), metadata=md(admin.token))
        assert [o.name for o in orgs.organizations] == ["acme"]
        assert running.snapshot()[1]["organizations"] == before[1]["organizations"]
        _still_serving(running, admin)
