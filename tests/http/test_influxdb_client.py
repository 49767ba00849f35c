"""A real `authzd serve` driven only by the real `influxdb-client` library
(pinned in the test extra): onboarding, orgs, buckets, users, authorizations,
a signed-in client, ping/health/ready. After each write the gRPC CheckAccess
answer changes accordingly: one process, one decision index."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from authzd.v1 import access_service_pb2, types_pb2
from influxdb_client import (
    Authorization,
    BucketRetentionRules,
    InfluxDBClient,
    OnboardingRequest,
    Permission,
    PermissionResource,
)
from influxdb_client.rest import ApiException
from influxdb_client.service.setup_service import SetupService

from tests.conftest import Client
from tests.serving import ServeProcess

PASSWORD = "admin-password-1"
READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHZD_")}
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--audit-log",
                                 str(tmp_path / "audit.jsonl")], env, tmp_path)
    try:
        yield server
    finally:
        server.stop()


def check(grpc: Client, token: str, org_id: str, bucket_id: str, action: int = READ) -> str:
    r = grpc.access.CheckAccess(access_service_pb2.CheckAccessRequest(
        token=token,
        permission=types_pb2.Permission(action=action, resource=types_pb2.Resource(
            type=BUCKETS, org_id=org_id, id=bucket_id)),
    ))
    return access_service_pb2.DecisionReason.Name(r.reason).removeprefix("DECISION_REASON_")


def test_the_python_influxdb_client_manages_authzd(served: ServeProcess, tmp_path: Path) -> None:
    url = served.http_url
    grpc = Client.connect(served.target)
    secrets: list[str] = [PASSWORD]

    # -- onboarding ------------------------------------------------------------
    with InfluxDBClient(url=url, token="") as anonymous:
        setup = SetupService(anonymous.api_client)
        assert setup.get_setup().allowed is True
        onboarded = setup.post_setup(onboarding_request=OnboardingRequest(
            username="admin", password=PASSWORD, org="acme", bucket="telemetry",
            retention_period_seconds=3600))
        assert onboarded.user.name == "admin"
        assert onboarded.org.name == "acme"
        assert onboarded.bucket.name == "telemetry"
        assert onboarded.bucket.retention_rules == []
        token = onboarded.auth.token
        secrets.append(token)
        assert onboarded.auth.status == "active"
        with pytest.raises(ApiException) as again:
            setup.post_setup(onboarding_request=OnboardingRequest(
                username="admin2", password=PASSWORD, org="x", bucket="y"))
        assert again.value.status == 422
        assert json.loads(again.value.body)["code"] == "conflict"
        assert setup.get_setup().allowed is False
    org_id, bucket_id = onboarded.org.id, onboarded.bucket.id
    assert check(grpc, token, org_id, bucket_id) == "ALLOWED"

    with InfluxDBClient(url=url, token=token, org="acme") as client:
        # -- ping, health, ready ------------------------------------------------
        assert client.ping() is True
        assert client.version() == "authzd-0.1.0"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # health() is deprecated
            health = client.health()
        assert (health.name, health.status) == ("authzd", "pass")
        assert client.ready().status == "ready"

        # -- organizations -------------------------------------------------------
        orgs_api = client.organizations_api()
        other = orgs_api.create_organization(name="other")
        assert other.name == "other" and len(other.id) == 16
        assert {o.name for o in orgs_api.find_organizations()} == {"acme", "other"}
        assert [o.id for o in orgs_api.find_organizations(org="other")] == [other.id]
        assert orgs_api.find_organization(other.id).name == "other"
        other.name = "other-renamed"
        other.description = "renamed by the client"
        updated = orgs_api.update_organization(other)
        assert (updated.name, updated.description) == ("other-renamed", "renamed by the client")

        # -- buckets ----------------------------------------------------------------
        buckets_api = client.buckets_api()
        rule = BucketRetentionRules(type="expire", every_seconds=86400)
        b2 = buckets_api.create_bucket(bucket_name="b2", org=other,
                                       retention_rules=rule, description="second")
        assert (b2.name, b2.org_id, b2.description) == ("b2", other.id, "second")
        assert b2.retention_rules[0].every_seconds == 86400
        assert buckets_api.find_bucket_by_name("b2").id == b2.id
        assert buckets_api.find_bucket_by_id(b2.id).name == "b2"
        assert [b.name for b in buckets_api.find_buckets(org_id=other.id).buckets] == ["b2"]
        assert {b.name for b in buckets_api.find_buckets().buckets} == {"telemetry", "b2"}
        b2.name = "b2-renamed"
        assert buckets_api.update_bucket(b2).name == "b2-renamed"

        # -- users ------------------------------------------------------------------
        users_api = client.users_api()
        me = users_api.me()
        assert (me.name, me.id) == ("admin", onboarded.user.id)
        alice = users_api.create_user("alice")
        assert alice.name == "alice" and alice.status == "active"
        assert [u.id for u in users_api.find_users(name="alice").users] == [alice.id]
        users_api.update_password(alice, "alice-password-1")
        secrets.append("alice-password-1")

        # -- authorizations -----------------------------------------------------------
        auths = client.authorizations_api()
        read_b2 = Permission(action="read", resource=PermissionResource(
            type="buckets", org_id=other.id, id=b2.id))
        created = auths.create_authorization(org_id=other.id, permissions=[read_b2])
        alice_token_auth = auths.create_authorization(
            authorization=_post(other.id, alice.id, [read_b2], "alice's reader"))
        t1, t2 = created.token, alice_token_auth.token
        secrets += [t1, t2]
        assert created.permissions[0].resource.id == b2.id
        assert created.permissions[0].action == "read"
        assert alice_token_auth.user_id == alice.id
        assert check(grpc, t1, other.id, b2.id) == "ALLOWED"
        assert check(grpc, t1, other.id, b2.id, WRITE) == "NO_MATCHING_PERMISSION"
        assert check(grpc, t2, other.id, b2.id) == "ALLOWED"

        everything = auths.find_authorizations()
        assert {a.id for a in everything} == {onboarded.auth.id, created.id, alice_token_auth.id}
        assert all(a.token is None for a in everything)  # never shown again
        assert auths.find_authorization_by_id(created.id).org_id == other.id
        assert auths.find_authorization_by_id(created.id).token is None
        assert [a.id for a in auths.find_authorizations_by_user_id(alice.id)] == [
            alice_token_auth.id]
        assert [a.id for a in auths.find_authorizations_by_user(alice)] == [alice_token_auth.id]
        assert [a.id for a in auths.find_authorizations_by_user_name("alice")] == [
            alice_token_auth.id]
        assert {a.id for a in auths.find_authorizations_by_org_id(other.id)} == {
            created.id, alice_token_auth.id}
        assert [a.id for a in auths.find_authorizations_by_org(onboarded.org)] == [
            onboarded.auth.id]
        assert {a.id for a in auths.find_authorizations_by_org_name("other-renamed")} == {
            created.id, alice_token_auth.id}

        # PATCH sends the whole object back, the token included: status and
        # description are used, the rest ignored.
        created.status = "inactive"
        created.description = "paused"
        patched = auths.update_authorization(created)
        assert (patched.status, patched.description) == ("inactive", "paused")
        assert patched.token is None
        assert check(grpc, t1, other.id, b2.id) == "TOKEN_INACTIVE"
        created.status = "active"
        auths.update_authorization(created)
        assert check(grpc, t1, other.id, b2.id) == "ALLOWED"
        auths.delete_authorization(created)
        assert check(grpc, t1, other.id, b2.id) == "TOKEN_UNKNOWN"
        with pytest.raises(ApiException) as gone:
            auths.find_authorization_by_id(created.id)
        assert gone.value.status == 404

        # -- a client signed in with a password (session cookie) -------------------------
        with InfluxDBClient(url=url, username="alice", password="alice-password-1") as signed:
            assert signed.users_api().me().name == "alice"
            # Her session holds what her tokens hold: a bucket, not the token list.
            assert signed.authorizations_api().find_authorizations() == []
        # close() posted /api/v2/signout with the cookie and got a 2xx (it raises otherwise)
        with InfluxDBClient(url=url, username="alice", password="wrong-password") as bad:
            with pytest.raises(ApiException) as refused:
                bad.users_api().me()
            assert refused.value.status == 401

        # -- user status and deletions ---------------------------------------------
        alice.status = "inactive"
        assert users_api.update_user(alice).status == "inactive"
        assert check(grpc, t2, other.id, b2.id) == "USER_INACTIVE"
        users_api.delete_user(alice)
        assert check(grpc, t2, other.id, b2.id) == "TOKEN_UNKNOWN"
        buckets_api.delete_bucket(b2)
        with pytest.raises(ApiException) as no_bucket:
            buckets_api.find_bucket_by_id(b2.id)
        assert no_bucket.value.status == 404
        orgs_api.delete_organization(other.id)
        assert [o.name for o in orgs_api.find_organizations()] == ["acme"]
    assert check(grpc, token, org_id, bucket_id) == "ALLOWED"
    grpc.channel.close()

    assert served.stop() == 0  # SIGTERM stops both servers cleanly
    # No token or password in the server's log or its audit trail.
    logged = "".join(served.stderr_lines) + (tmp_path / "audit.jsonl").read_text()
    assert '"serving_http"' in logged and "authorization.create" in logged
    for secret in secrets:
        assert secret not in logged
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    actions = {e["action"] for e in audit if e.get("transport") == "http"}
    assert {"setup", "organization.create", "bucket.create", "user.create",
            "user.set_password", "authorization.create", "authorization.update",
            "authorization.delete", "session.sign_in", "session.sign_out"} <= actions


def _post(org_id: str, user_id: str, permissions: list[Permission],
          description: str) -> Authorization:
    return Authorization(org_id=org_id, user_id=user_id, permissions=permissions,
                         description=description)
