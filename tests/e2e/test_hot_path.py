"""The decision index behind CheckAccess: bookkeeping off the request path,
preload, instant invalidation on the writing server, and failing closed."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import types_pb2

from service.domain.permissions import Action, Permission, ResourceType
from tests.conftest import md, reason_of


def _org_read(org_id: str) -> types_pb2.Permission:
    return types_pb2.Permission(
        action=types_pb2.ACTION_READ,
        resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_ORGS, id=org_id),
    )


def _token(client, admin) -> auth_pb.CreateAuthorizationResponse:  # type: ignore[no-untyped-def]
    return client.auths.CreateAuthorization(
        auth_pb.CreateAuthorizationRequest(
            org_id=admin.org_id, permissions=[_org_read(admin.org_id)]
        ),
        metadata=md(admin.token),
    )


def test_last_used_time_is_written_by_the_flush_not_by_the_check(running, admin):  # type: ignore[no-untyped-def]
    client = running.client
    created = _token(client, admin)
    req = access_pb.CheckAccessRequest(token=created.token, permission=_org_read(admin.org_id))
    assert client.access.CheckAccess(req).allowed
    get = auth_pb.GetAuthorizationRequest(id=created.authorization.id)
    before = client.auths.GetAuthorization(get, metadata=md(admin.token)).authorization
    assert not before.HasField("last_used_time")  # the check itself wrote nothing
    running.server.app.access.flush_last_used()
    after = client.auths.GetAuthorization(get, metadata=md(admin.token)).authorization
    assert after.HasField("last_used_time")
    assert abs(after.last_used_time.seconds - running.clock.time()) <= 1


def test_last_used_flush_does_not_invalidate_decisions(running, admin):  # type: ignore[no-untyped-def]
    store = running.server.app.store
    before = store.revision()
    _ = _token(running.client, admin)
    assert store.revision() == before + 1
    running.server.app.access.flush_last_used()
    assert store.revision() == before + 1


def test_preload_compiles_existing_tokens(running, admin):  # type: ignore[no-untyped-def]
    access = running.server.app.access
    # The poller would clear the cache when it notices setup's write (at once on
    # PostgreSQL, woken by NOTIFY): stopped, nothing clears it behind the test.
    access.stop()
    access.invalidate()
    wanted = Permission(Action.READ, ResourceType.ORGS, id=admin.org_id)
    now = access.now()
    assert access.cached_verdict(admin.token, wanted, now) is None  # not in memory
    assert access.preload() >= 1
    verdict = access.cached_verdict(admin.token, wanted, now)  # answered from memory
    assert verdict is not None and verdict.decision.allowed


def test_the_writing_server_never_answers_stale(running, admin):  # type: ignore[no-untyped-def]
    client = running.client
    created = _token(client, admin)
    req = access_pb.CheckAccessRequest(token=created.token, permission=_org_read(admin.org_id))
    for _ in range(20):
        assert client.access.CheckAccess(req).allowed
        client.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(
                    id=created.authorization.id, status=types_pb2.STATUS_INACTIVE
                ),
            ),
            metadata=md(admin.token),
        )
        assert client.access.CheckAccess(req).reason == access_pb.DECISION_REASON_TOKEN_INACTIVE
        client.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(
                    id=created.authorization.id, status=types_pb2.STATUS_ACTIVE
                ),
            ),
            metadata=md(admin.token),
        )


def test_checks_fail_closed_when_the_store_cannot_be_read(store_location, monkeypatch):  # type: ignore[no-untyped-def]
    """A warm cache does not keep answering "allowed" once the store has been
    unreadable for longer than stale_after: UNAVAILABLE and health NOT_SERVING,
    then both recover by themselves."""
    import time

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from service.domain.errors import StoreUnavailable
    from service.server import build_server
    from service.settings import Settings
    from tests.conftest import FAST_HASHER, Client

    settings = Settings(**store_location, listen="127.0.0.1:0", stale_after=0.5, poll_interval=0.05)
    server, port = build_server(settings, hasher=FAST_HASHER)
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    health = health_pb2_grpc.HealthStub(client.channel)
    try:
        from authzd.v1 import setup_service_pb2

        s = client.setup.Setup(
            setup_service_pb2.SetupRequest(username="u", password="password-1", org="o", bucket="b")
        )
        req = access_pb.CheckAccessRequest(token=s.token, permission=_org_read(s.organization.id))
        assert client.access.CheckAccess(req).allowed  # warm

        def broken() -> int:
            raise StoreUnavailable()

        monkeypatch.setattr(server.app.store, "revision", broken)
        time.sleep(1.0)  # twice the bound, with the poller failing all along
        with pytest.raises(grpc.RpcError) as err:
            client.access.CheckAccess(req)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert reason_of(err.value) == "ERROR_REASON_STORE_UNAVAILABLE"
        status = health.Check(health_pb2.HealthCheckRequest()).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING

        monkeypatch.undo()
        time.sleep(0.3)  # the poller reads the store again
        assert client.access.CheckAccess(req).allowed
        status = health.Check(health_pb2.HealthCheckRequest()).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        client.channel.close()
        server.stop(0)


def test_a_long_preload_does_not_start_the_server_stale(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Preloading many tokens can take longer than stale_after: the server must
    confirm freshness before it serves, not refuse its first checks."""
    import time

    from authzd.v1 import setup_service_pb2

    from service.app.access import AccessIndex
    from service.server import build_server
    from service.settings import Settings
    from tests.conftest import FAST_HASHER, Client

    settings = Settings(db=str(tmp_path / "slow.db"), listen="127.0.0.1:0", stale_after=0.5)
    first, port = build_server(settings, hasher=FAST_HASHER)
    first.start()
    client = Client.connect(f"127.0.0.1:{port}")
    s = client.setup.Setup(
        setup_service_pb2.SetupRequest(username="u", password="password-1", org="o", bucket="b")
    )
    client.channel.close()
    first.stop(0)

    original = AccessIndex.preload

    def slow_preload(self, limit=None):  # type: ignore[no-untyped-def]
        time.sleep(1.0)  # twice stale_after
        return original(self, limit)

    monkeypatch.setattr(AccessIndex, "preload", slow_preload)
    second, port = build_server(settings, hasher=FAST_HASHER)
    second.start()
    client = Client.connect(f"127.0.0.1:{port}")
    try:
        req = access_pb.CheckAccessRequest(token=s.token, permission=_org_read(s.organization.id))
        assert client.access.CheckAccess(req).allowed
    finally:
        client.channel.close()
        second.stop(0)


def test_housekeeping_deletes_expired_sessions_only(running, admin):  # type: ignore[no-untyped-def]
    from authzd.v1 import session_service_pb2

    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    def sign_in() -> str:
        return running.client.sessions.SignIn(
            session_service_pb2.SignInRequest(username=ADMIN_USER, password=ADMIN_PASSWORD)
        ).session_token

    sign_in()
    assert running.snapshot()[1]["sessions"] == 1
    running.clock.advance(61 * 60)  # past the 60-minute lifetime of the first
    fresh = sign_in()
    # The poller may run housekeeping itself now that a minute has passed.
    running.server.app.access.housekeeping()
    assert running.snapshot()[1]["sessions"] == 1  # the expired one is gone
    req = access_pb.CheckAccessRequest(token=fresh, permission=_org_read(admin.org_id))
    assert running.client.access.CheckAccess(req).allowed  # the live one still works
