"""envoy.service.auth.v3.Authorization/Check over a real channel (no Envoy here;
tests/envoy/ runs the real proxy): permissions from the route's context extension
and from the rules file, the answer's headers and bodies, metrics, fail closed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb
from authzd.v1 import authorization_service_pb2, types_pb2
from prometheus_client import REGISTRY

from service.server import build_server
from service.settings import Settings
from service.transport.ext_authz import SERVICE
from tests.conftest import FAST_HASHER, Admin, Client, md, setup_admin
from tests.e2e.test_access import BUCKETS, ORGS, R, W, perm

RULES = Path(__file__).resolve().parents[2] / "deploy" / "ext-authz.rules"


class Envoyish:
    """Sends CheckRequests the way Envoy does."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.call = channel.unary_unary(
            f"/{SERVICE}/Check",
            request_serializer=ext_pb.CheckRequest.SerializeToString,
            response_deserializer=ext_pb.CheckResponse.FromString,
        )

    def check(self, method: str, path: str, token: str | None = None,
              context: dict[str, str] | None = None, **headers: str) -> Any:
        req = ext_pb.CheckRequest()
        http = req.attributes.request.http
        http.method, http.path = method, path
        for k, v in headers.items():
            http.headers[k.replace("_", "-")] = v
        if token is not None:
            http.headers["authorization"] = f"Token {token}"
        for k, v in (context or {}).items():
            req.attributes.context_extensions[k] = v
        return self.call(req, timeout=5)


def headers_of(option_list: Any) -> dict[str, str]:
    return {o.header.key: o.header.value for o in option_list}


@pytest.fixture
def served(tmp_path: Path, clock) -> Iterator[tuple[Client, Envoyish, Any]]:  # type: ignore[no-untyped-def]
    settings = Settings(listen="127.0.0.1:0", db=str(tmp_path / "a.db"),
                        ext_authz_rules=str(RULES))
    server, port = build_server(settings, clock=clock, hasher=FAST_HASHER)
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    try:
        yield client, Envoyish(client.channel), server
    finally:
        client.channel.close()
        server.stop(0)


def token_for(client: Client, admin: Admin, *perms: types_pb2.Permission) -> Any:
    return client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(org_id=admin.org_id,
                                                             permissions=perms),
        metadata=md(admin.token),
    )


def counter(reason: str, source: str) -> float:
    return REGISTRY.get_sample_value(
        "authzd_decisions_total", {"reason": reason, "source": source}
    ) or 0.0


def test_allowed_by_name_resolving_rule_sets_identity_headers(served) -> None:  # type: ignore[no-untyped-def]
    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(W, BUCKETS, admin.org_id, admin.bucket_id))
    before = counter("ALLOWED", "ext_authz")
    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry&precision=ns",
                    created.token, x_authzd_user_id="spoofed")
    assert r.status.code == 0 and r.HasField("ok_response")
    assert headers_of(r.ok_response.headers) == {
        "x-authzd-user-id": admin.user_id,
        "x-authzd-org-id": admin.org_id,
        "x-authzd-authorization-id": created.authorization.id,
    }
    assert all(o.append_action == o.OVERWRITE_IF_EXISTS_OR_ADD for o in r.ok_response.headers)
    assert "authorization" not in r.ok_response.headers_to_remove
    assert counter("ALLOWED", "ext_authz") == before + 1


def test_denials_401_and_403_with_reason_and_body(served) -> None:  # type: ignore[no-untyped-def]
    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(R, BUCKETS, admin.org_id, admin.bucket_id))

    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry", "nope-not-a-token")
    assert r.status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert r.denied_response.status.code == 401
    h = headers_of(r.denied_response.headers)
    assert h["x-authzd-reason"] == "TOKEN_UNKNOWN"
    assert h["www-authenticate"].startswith("Token")
    assert json.loads(r.denied_response.body) == {"code": "unauthorized",
                                                  "message": "unauthorized access"}

    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry")  # no token at all
    assert r.denied_response.status.code == 401

    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry", created.token)
    assert r.status.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert r.denied_response.status.code == 403
    h = headers_of(r.denied_response.headers)
    assert h["x-authzd-reason"] == "NO_MATCHING_PERMISSION"
    assert "www-authenticate" not in h
    assert json.loads(r.denied_response.body)["code"] == "forbidden"

    # An unknown bucket name: a deny, not an error.
    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=nope", created.token)
    assert r.denied_response.status.code == 403
    assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "UNKNOWN_NAME"
    # ... and still 401 when the token is unusable.
    r = envoy.check("POST", "/api/v2/write?org=acme&bucket=nope", "nope")
    assert r.denied_response.status.code == 401

    # No rule: fail closed.
    r = envoy.check("GET", "/somewhere/else", created.token)
    assert r.denied_response.status.code == 403
    assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "NO_RULE"

    # A deny rule: refused whatever the token holds.
    admin_token = admin.token  # an Operator token
    r = envoy.check("POST", "/api/v2/secret/x", admin_token)
    assert r.denied_response.status.code == 403
    assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "DENY_RULE"


def test_allow_rule_needs_no_token_and_strips_identity_headers(served) -> None:  # type: ignore[no-untyped-def]
    _, envoy, _ = served
    before = counter("ALLOW_RULE", "ext_authz")
    r = envoy.check("GET", "/health", x_authzd_user_id="spoofed")
    assert r.status.code == 0
    assert counter("ALLOW_RULE", "ext_authz") == before + 1
    assert list(r.ok_response.headers) == []
    assert set(r.ok_response.headers_to_remove) == {
        "x-authzd-user-id", "x-authzd-org-id", "x-authzd-authorization-id"
    }


def test_context_extension_wins_over_the_rules(served) -> None:  # type: ignore[no-untyped-def]
    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(R, ORGS, "", admin.org_id))
    ctx = {"authzd_permission": "read:orgs/{header.x-org-id}"}
    r = envoy.check("GET", "/health", created.token, ctx, x_org_id=admin.org_id)
    assert r.status.code == 0
    assert headers_of(r.ok_response.headers)["x-authzd-authorization-id"] == (
        created.authorization.id
    )
    r = envoy.check("GET", "/health", created.token, {"authzd_permission": "write:orgs"})
    assert r.denied_response.status.code == 403
    r = envoy.check("GET", "/health", created.token, {"authzd_permission": "bogus"})
    assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "INVALID_PERMISSION"


def test_deactivation_is_seen_by_the_very_next_check(served) -> None:  # type: ignore[no-untyped-def]
    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(W, BUCKETS, admin.org_id))
    path = "/api/v2/write?org=acme&bucket=telemetry"
    assert envoy.check("POST", path, created.token).status.code == 0
    from tests.e2e.test_access import World

    World(admin, admin.org_id, admin.bucket_id, "", "", "", "").set_auth_status(
        client, created.authorization.id, types_pb2.STATUS_INACTIVE
    )
    r = envoy.check("POST", path, created.token)
    assert r.denied_response.status.code == 401
    assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "TOKEN_INACTIVE"


def test_store_unreadable_is_an_error_never_ok(served, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, envoy, server = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(W, BUCKETS, admin.org_id))
    monkeypatch.setattr(server.app.access, "_fresh_until", 0.0)
    with pytest.raises(grpc.RpcError) as info:
        envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry", created.token)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_remove_authorization_and_off(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    for enabled in (True, False):
        settings = Settings(listen="127.0.0.1:0", db=str(tmp_path / f"{enabled}.db"),
                            ext_authz=enabled, ext_authz_rules=str(RULES),
                            ext_authz_remove_authorization=True)
        server, port = build_server(settings, clock=clock, hasher=FAST_HASHER)
        server.start()
        client = Client.connect(f"127.0.0.1:{port}")
        try:
            envoy = Envoyish(client.channel)
            if enabled:
                admin = setup_admin(client)
                created = token_for(client, admin, perm(W, BUCKETS, admin.org_id))
                r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry",
                                created.token)
                assert "authorization" in r.ok_response.headers_to_remove
            else:
                with pytest.raises(grpc.RpcError) as info:
                    envoy.check("GET", "/health")
                assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        finally:
            client.channel.close()
            server.stop(0)


def test_a_renamed_bucket_resolves_by_its_new_name_at_once(served) -> None:  # type: ignore[no-untyped-def]
    from authzd.v1 import bucket_service_pb2

    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(W, BUCKETS, admin.org_id, admin.bucket_id))
    old, new = "/api/v2/write?org=acme&bucket=telemetry", "/api/v2/write?org=acme&bucket=metrics"
    assert envoy.check("POST", old, created.token).status.code == 0
    assert headers_of(envoy.check("POST", new, created.token).denied_response.headers)[
        "x-authzd-reason"] == "UNKNOWN_NAME"
    client.buckets.UpdateBucket(
        bucket_service_pb2.UpdateBucketRequest(
            bucket=types_pb2.Bucket(id=admin.bucket_id, name="metrics")
        ),
        metadata=md(admin.token),
    )
    assert envoy.check("POST", new, created.token).status.code == 0
    assert headers_of(envoy.check("POST", old, created.token).denied_response.headers)[
        "x-authzd-reason"] == "UNKNOWN_NAME"


def test_reflection_lists_the_ext_authz_service(served) -> None:  # type: ignore[no-untyped-def]
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    client, _, _ = served
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    (answer,) = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for s in answer.list_services_response.service}
    assert SERVICE in names and "authzd.v1.AccessService" in names


def test_repeated_denials_share_the_rate_limited_denial_log(served) -> None:  # type: ignore[no-untyped-def]
    from structlog.testing import capture_logs

    client, envoy, _ = served
    admin = setup_admin(client)
    created = token_for(client, admin, perm(R, BUCKETS, admin.org_id))
    with capture_logs() as logs:
        for _ in range(5):
            r = envoy.check("POST", "/api/v2/write?org=acme&bucket=telemetry", created.token)
            assert r.denied_response.status.code == 403
        # The same denial through CheckAccess is the same kind: still rate limited.
        from authzd.v1 import access_service_pb2

        client.access.CheckAccess(access_service_pb2.CheckAccessRequest(
            token=created.token, permission=perm(W, BUCKETS, admin.org_id, admin.bucket_id)))
    denied = [e for e in logs if e["event"] == "denied"]
    assert len(denied) == 1
    assert denied[0]["reason"] == "NO_MATCHING_PERMISSION"
    assert denied[0]["authorization_id"] == created.authorization.id
    assert denied[0]["permission"] == f"write:orgs/{admin.org_id}/buckets/{admin.bucket_id}"
    assert created.token not in repr(logs)


def test_bytes_that_are_not_a_check_request_are_invalid_argument(served) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = served
    call = client.channel.unary_unary(f"/{SERVICE}/Check")
    with pytest.raises(grpc.RpcError) as info:
        call(b"\xff\xff\xff", timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_denials_without_a_rule_are_one_kind_whatever_the_path(served) -> None:  # type: ignore[no-untyped-def]
    """A scan of unmatched paths is one rate-limited kind of denial (a line for
    the first, with its path and no query string), not a log line a request."""
    from structlog.testing import capture_logs

    client, envoy, _ = served
    admin = setup_admin(client)
    with capture_logs() as logs:
        for i in range(5):
            r = envoy.check("GET", f"/no/rule/{i}?token=secret-{i}", admin.token)
            assert headers_of(r.denied_response.headers)["x-authzd-reason"] == "NO_RULE"
    denied = [e for e in logs if e["event"] == "denied"]
    assert [(e["permission"], e["path"], e["method"]) for e in denied] == [
        ("NO_RULE", "/no/rule/0", "GET")]
    assert "secret-" not in repr(logs)
