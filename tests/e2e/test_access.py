"""AccessService (CheckAccess, BatchCheckAccess) end to end: every decision reason,
the matching rules of SPEC §2 through the wire, and request validation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    bucket_service_pb2,
    organization_service_pb2,
    types_pb2,
    user_service_pb2,
)
from google.protobuf import field_mask_pb2

from service.app.clock import FakeClock
from service.domain.tokens import TokenKind, new_token
from service.store.models import AuthorizationRow
from tests.conftest import Admin, Client, Running, error_info, md
from tests.helpers import check, perm

R, W = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
AUTHS = types_pb2.RESOURCE_TYPE_AUTHORIZATIONS
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS
DASHBOARDS = types_pb2.RESOURCE_TYPE_DASHBOARDS
ORGS = types_pb2.RESOURCE_TYPE_ORGS
USERS = types_pb2.RESOURCE_TYPE_USERS
INSTANCE = types_pb2.RESOURCE_TYPE_INSTANCE

ALLOWED = access_service_pb2.DECISION_REASON_ALLOWED
TOKEN_UNKNOWN = access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN
TOKEN_INACTIVE = access_service_pb2.DECISION_REASON_TOKEN_INACTIVE
TOKEN_EXPIRED = access_service_pb2.DECISION_REASON_TOKEN_EXPIRED
USER_INACTIVE = access_service_pb2.DECISION_REASON_USER_INACTIVE
NO_MATCH = access_service_pb2.DECISION_REASON_NO_MATCHING_PERMISSION

OTHER_ID = "0f0e0d0c0b0a0908"  # a well-formed id nothing in the store has


def same_perm(a: types_pb2.Permission, b: types_pb2.Permission) -> bool:
    return (a.action, a.resource.type, a.resource.org_id, a.resource.id) == (
        b.action, b.resource.type, b.resource.org_id, b.resource.id
    )


@dataclass
class World:
    """Setup's admin plus a second org, a second bucket and a second user."""

    admin: Admin
    org_a: str
    bucket_a1: str
    bucket_a2: str
    org_g: str
    bucket_g: str
    bob: str

    def create(
        self,
        client: Client,
        *perms: types_pb2.Permission,
        preset: int = 0,
        user_id: str = "",
        org_id: str = "",
        expire_in: float | None = None,
        clock: FakeClock | None = None,
    ) -> authorization_service_pb2.CreateAuthorizationResponse:
        req = authorization_service_pb2.CreateAuthorizationRequest(
            org_id=org_id or self.org_a, user_id=user_id, permissions=perms, preset=preset
        )
        if expire_in is not None:
            assert clock is not None
            req.expire_time.FromDatetime(clock.now() + timedelta(seconds=expire_in))
        return client.auths.CreateAuthorization(req, metadata=md(self.admin.token))

    def set_auth_status(self, client: Client, auth_id: str, status: int) -> None:
        client.auths.UpdateAuthorization(
            authorization_service_pb2.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=auth_id, status=status),
                update_mask=field_mask_pb2.FieldMask(paths=["status"]),
            ),
            metadata=md(self.admin.token),
        )

    def set_user_status(self, client: Client, user_id: str, status: int) -> None:
        client.users.UpdateUser(
            user_service_pb2.UpdateUserRequest(
                user=types_pb2.User(id=user_id, status=status),
                update_mask=field_mask_pb2.FieldMask(paths=["status"]),
            ),
            metadata=md(self.admin.token),
        )


@pytest.fixture
def world(client: Client, admin: Admin) -> World:
    meta = md(admin.token)
    a2 = client.buckets.CreateBucket(
        bucket_service_pb2.CreateBucketRequest(org_id=admin.org_id, name="second"), metadata=meta
    ).bucket.id
    g = client.orgs.CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(name="globex"), metadata=meta
    ).organization.id
    bg = client.buckets.CreateBucket(
        bucket_service_pb2.CreateBucketRequest(org_id=g, name="g-bucket"), metadata=meta
    ).bucket.id
    bob = client.users.CreateUser(
        user_service_pb2.CreateUserRequest(name="bob"), metadata=meta
    ).user.id
    return World(admin, admin.org_id, admin.bucket_id, a2, g, bg, bob)


# -- ALLOWED and matched_permission ------------------------------------------


def test_allowed_names_the_first_matching_granted_permission(client: Client, world: World) -> None:
    a, b1, b2 = world.org_a, world.bucket_a1, world.bucket_a2
    granted = [perm(R, BUCKETS, a, b1), perm(R, BUCKETS, a), perm(W, BUCKETS, a, b1)]
    created = world.create(client, *granted)

    r = check(client, created.token, perm(R, BUCKETS, a, b1))
    assert r.allowed is True and r.reason == ALLOWED
    assert same_perm(r.matched_permission, granted[0])
    assert r.authorization_id == created.authorization.id
    assert r.user_id == world.admin.user_id
    assert r.org_id == a

    r = check(client, created.token, perm(R, BUCKETS, a, b2))
    assert r.allowed and same_perm(r.matched_permission, granted[1])
    r = check(client, created.token, perm(W, BUCKETS, a, b1))
    assert r.allowed and same_perm(r.matched_permission, granted[2])


def test_order_of_grants_decides_which_one_is_reported(client: Client, world: World) -> None:
    a, b1 = world.org_a, world.bucket_a1
    granted = [perm(R, BUCKETS, a), perm(R, BUCKETS, a, b1)]
    created = world.create(client, *granted)
    r = check(client, created.token, perm(R, BUCKETS, a, b1))
    assert r.allowed and same_perm(r.matched_permission, granted[0])


@pytest.mark.parametrize("first", ["instance", "global", "org", "id"])
def test_first_match_follows_grant_order_across_kinds(
    client: Client, world: World, first: str
) -> None:
    """Every kind of grant matches the request; the earliest one is reported."""
    a, b1 = world.org_a, world.bucket_a1
    kinds = {
        "instance": perm(R, INSTANCE),
        "global": perm(R, BUCKETS),
        "org": perm(R, BUCKETS, a),
        "id": perm(R, BUCKETS, a, b1),
    }
    order = [first, *reversed([k for k in kinds if k != first])]
    created = world.create(client, *[kinds[k] for k in order])
    r = check(client, created.token, perm(R, BUCKETS, a, b1))
    assert r.allowed and same_perm(r.matched_permission, kinds[first])


def test_operator_token_matches_global_grant_before_instance(client: Client, world: World) -> None:
    r = check(client, world.admin.token, perm(W, DASHBOARDS, world.org_g, OTHER_ID))
    assert r.allowed and same_perm(r.matched_permission, perm(W, DASHBOARDS))
    assert r.authorization_id == world.admin.authorization_id
    assert r.org_id == world.admin.org_id


# -- every kind of deny --------------------------------------------------------


def _assert_unknown(r: access_service_pb2.CheckAccessResponse) -> None:
    assert r.allowed is False and r.reason == TOKEN_UNKNOWN
    assert (r.authorization_id, r.user_id, r.org_id) == ("", "", "")
    assert not r.HasField("matched_permission")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "nope",
        "azt_",
        "Token azt_abc",
        "x" * 53,
        "azt_" + "!" * 49,
        new_token(TokenKind.API, secrets.randbelow) + "x",  # one character too many
    ],
)
def test_malformed_token_is_unknown(client: Client, world: World, token: str) -> None:
    _assert_unknown(check(client, token, perm(R, BUCKETS, world.org_a)))


def test_bad_checksum_is_unknown_even_when_the_body_is_a_real_token(
    client: Client, world: World
) -> None:
    token = world.admin.token
    last = token[-1]
    tampered = token[:-1] + ("A" if last != "A" else "B")
    _assert_unknown(check(client, tampered, perm(R, BUCKETS)))
    # Sanity: the untampered token is allowed for the same request.
    assert check(client, token, perm(R, BUCKETS)).allowed


def test_bad_checksum_is_refused_before_any_lookup(
    client: Client, world: World, running: Running
) -> None:
    """SPEC §6: even if the store held the digest of a token with a bad checksum,
    the token is refused without looking it up."""
    created = world.create(client, perm(R, BUCKETS, world.org_a))
    good = created.token
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    # Behind the service's back, on whichever backend the server runs (the
    # models go through the server's database); a write like any other, so the
    # server forgets what it had cached.
    with running.server.app.store.write():
        changed = (
            AuthorizationRow.update(token_digest=hashlib.sha256(tampered.encode()).hexdigest())
            .where(AuthorizationRow.id == created.authorization.id)
            .execute()
        )
    assert changed == 1
    _assert_unknown(check(client, tampered, perm(R, BUCKETS, world.org_a)))


@pytest.mark.parametrize("kind", [TokenKind.API, TokenKind.SESSION])
def test_well_formed_but_unknown_token_is_unknown(
    client: Client, world: World, kind: TokenKind
) -> None:
    _assert_unknown(check(client, new_token(kind, secrets.randbelow), perm(R, BUCKETS)))


def test_no_matching_permission(client: Client, world: World) -> None:
    created = world.create(client, perm(R, BUCKETS, world.org_a, world.bucket_a1))
    r = check(client, created.token, perm(R, BUCKETS, world.org_a, world.bucket_a2))
    assert r.allowed is False and r.reason == NO_MATCH
    assert not r.HasField("matched_permission")
    assert r.authorization_id == created.authorization.id
    assert r.user_id == world.admin.user_id and r.org_id == world.org_a


def test_inactive_token_then_reactivated(client: Client, world: World) -> None:
    p = perm(R, BUCKETS, world.org_a)
    created = world.create(client, p)
    auth_id = created.authorization.id
    world.set_auth_status(client, auth_id, types_pb2.STATUS_INACTIVE)
    r = check(client, created.token, p)
    assert r.allowed is False and r.reason == TOKEN_INACTIVE
    assert r.authorization_id == auth_id and not r.HasField("matched_permission")
    world.set_auth_status(client, auth_id, types_pb2.STATUS_ACTIVE)
    r = check(client, created.token, p)
    assert r.allowed is True and r.reason == ALLOWED


def test_expired_token(client: Client, world: World, clock: FakeClock) -> None:
    p = perm(R, BUCKETS, world.org_a)
    created = world.create(client, p, expire_in=60, clock=clock)
    assert created.authorization.HasField("expire_time")
    assert check(client, created.token, p).reason == ALLOWED
    clock.advance(59.5)
    assert check(client, created.token, p).reason == ALLOWED
    clock.advance(0.5)  # exactly at expire_time: expired
    r = check(client, created.token, p)
    assert r.allowed is False and r.reason == TOKEN_EXPIRED
    assert r.authorization_id == created.authorization.id


def test_inactive_is_reported_before_expired(
    client: Client, world: World, clock: FakeClock
) -> None:
    p = perm(R, BUCKETS, world.org_a)
    created = world.create(client, p, expire_in=10, clock=clock)
    clock.advance(20)
    world.set_auth_status(client, created.authorization.id, types_pb2.STATUS_INACTIVE)
    assert check(client, created.token, p).reason == TOKEN_INACTIVE


def test_user_inactive_then_reactivated(client: Client, world: World) -> None:
    p = perm(R, BUCKETS, world.org_a)
    created = world.create(client, p, user_id=world.bob)
    assert check(client, created.token, p).reason == ALLOWED
    world.set_user_status(client, world.bob, types_pb2.STATUS_INACTIVE)
    r = check(client, created.token, p)
    assert r.allowed is False and r.reason == USER_INACTIVE
    assert r.user_id == world.bob and r.authorization_id == created.authorization.id
    world.set_user_status(client, world.bob, types_pb2.STATUS_ACTIVE)
    assert check(client, created.token, p).reason == ALLOWED


def test_expired_is_reported_before_user_inactive(
    client: Client, world: World, clock: FakeClock
) -> None:
    p = perm(R, BUCKETS, world.org_a)
    created = world.create(client, p, user_id=world.bob, expire_in=10, clock=clock)
    world.set_user_status(client, world.bob, types_pb2.STATUS_INACTIVE)
    assert check(client, created.token, p).reason == USER_INACTIVE
    clock.advance(10)
    assert check(client, created.token, p).reason == TOKEN_EXPIRED


# -- SPEC §2 consequences, through the wire -------------------------------------


def test_write_does_not_imply_read(client: Client, world: World) -> None:
    a, b1 = world.org_a, world.bucket_a1
    created = world.create(client, perm(W, BUCKETS, a, b1))
    assert check(client, created.token, perm(W, BUCKETS, a, b1)).reason == ALLOWED
    assert check(client, created.token, perm(R, BUCKETS, a, b1)).reason == NO_MATCH


def test_org_wide_grant_needs_the_org_in_the_request(client: Client, world: World) -> None:
    a, b1 = world.org_a, world.bucket_a1
    created = world.create(client, perm(R, BUCKETS, a))
    assert check(client, created.token, perm(R, BUCKETS, a, b1)).reason == ALLOWED
    assert check(client, created.token, perm(R, BUCKETS, a)).reason == ALLOWED
    assert check(client, created.token, perm(R, BUCKETS, "", b1)).reason == NO_MATCH
    assert check(client, created.token, perm(R, BUCKETS)).reason == NO_MATCH
    assert check(client, created.token, perm(R, BUCKETS, world.org_g, b1)).reason == NO_MATCH
    assert check(client, created.token, perm(R, DASHBOARDS, a)).reason == NO_MATCH


def test_org_wide_orgs_grant_does_not_match_reading_the_org(client: Client, world: World) -> None:
    a = world.org_a
    created = world.create(client, perm(R, ORGS, a))  # {orgs, org_id: A}
    assert check(client, created.token, perm(R, ORGS, "", a)).reason == NO_MATCH  # read:orgs/A
    assert check(client, created.token, perm(R, ORGS, a, OTHER_ID)).reason == ALLOWED


def test_id_grant_with_org_refuses_another_org(client: Client, world: World) -> None:
    """Rule 6: unlike InfluxDB 2.x, two named orgs must agree."""
    a, g, b1 = world.org_a, world.org_g, world.bucket_a1
    created = world.create(client, perm(R, BUCKETS, a, b1))
    assert check(client, created.token, perm(R, BUCKETS, g, b1)).reason == NO_MATCH
    # This round's rule 6: a grant naming an org does not reach a request naming none.
    assert check(client, created.token, perm(R, BUCKETS, "", b1)).reason == NO_MATCH
    assert check(client, created.token, perm(R, BUCKETS, a, OTHER_ID)).reason == NO_MATCH


def test_id_grant_without_org_matches_any_org(client: Client, world: World) -> None:
    b1 = world.bucket_a1
    created = world.create(client, perm(R, BUCKETS, "", b1))
    assert check(client, created.token, perm(R, BUCKETS, world.org_g, b1)).reason == ALLOWED
    assert check(client, created.token, perm(R, BUCKETS, "", b1)).reason == ALLOWED


def test_all_access_token_through_the_wire(client: Client, world: World) -> None:
    a, g = world.org_a, world.org_g
    aa = world.create(client, preset=authorization_service_pb2.PRESET_ALL_ACCESS)
    t = aa.token
    me = world.admin.user_id
    assert check(client, t, perm(R, ORGS, "", a)).reason == ALLOWED
    assert check(client, t, perm(W, ORGS, "", a)).reason == NO_MATCH
    assert check(client, t, perm(R, ORGS, "", g)).reason == NO_MATCH
    assert check(client, t, perm(R, USERS, "", me)).reason == ALLOWED
    assert check(client, t, perm(W, USERS, "", me)).reason == ALLOWED
    assert check(client, t, perm(R, USERS, "", world.bob)).reason == NO_MATCH
    assert check(client, t, perm(W, BUCKETS, a, world.bucket_a1)).reason == ALLOWED
    assert check(client, t, perm(W, BUCKETS, g, world.bucket_g)).reason == NO_MATCH
    # No org and no id: only a global or instance grant matches.
    assert check(client, t, perm(R, BUCKETS)).reason == NO_MATCH
    assert check(client, t, perm(R, INSTANCE)).reason == NO_MATCH
    # The org-wide users grant does not match a users request naming only an id.
    r = check(client, t, perm(R, USERS, a, world.bob))
    assert r.reason == ALLOWED and same_perm(r.matched_permission, perm(R, USERS, a))


def test_instance_grant_matches_every_type_org_and_id_for_its_action(
    client: Client, world: World
) -> None:
    created = world.create(client, perm(R, INSTANCE))
    t = created.token
    for p in [perm(R, BUCKETS), perm(R, BUCKETS, world.org_g, world.bucket_g),
              perm(R, USERS, "", world.bob), perm(R, ORGS, "", world.org_g), perm(R, INSTANCE)]:
        r = check(client, t, p)
        assert r.reason == ALLOWED, p
        assert same_perm(r.matched_permission, perm(R, INSTANCE))
    assert check(client, t, perm(W, BUCKETS)).reason == NO_MATCH
    assert check(client, t, perm(W, INSTANCE)).reason == NO_MATCH


def test_global_grant_matches_any_org_and_id_of_its_type(client: Client, world: World) -> None:
    created = world.create(client, perm(R, DASHBOARDS))
    t = created.token
    assert check(client, t, perm(R, DASHBOARDS)).reason == ALLOWED
    assert check(client, t, perm(R, DASHBOARDS, world.org_g, OTHER_ID)).reason == ALLOWED
    assert check(client, t, perm(R, DASHBOARDS, "", OTHER_ID)).reason == ALLOWED
    assert check(client, t, perm(R, BUCKETS)).reason == NO_MATCH


# -- invalid requests are errors, not denies -------------------------------------


@pytest.mark.parametrize(
    ("permission", "field"),
    [
        (None, "permission"),
        (perm(0, BUCKETS), "permission.action"),
        (perm(99, BUCKETS), "permission.action"),
        (perm(R, 0), "permission.resource.type"),
        (perm(R, 99), "permission.resource.type"),
        (perm(R, BUCKETS, "not-an-id"), "permission.resource.org_id"),
        (perm(R, BUCKETS, "0" * 16), "permission.resource.org_id"),
        (perm(R, BUCKETS, "0A1B2C3D4E5F6071"), "permission.resource.org_id"),
        (perm(R, BUCKETS, "", "0a1b2c3d4e5f607"), "permission.resource.id"),
        (perm(R, BUCKETS, "", "0a1b2c3d4e5f60711"), "permission.resource.id"),
        (perm(R, BUCKETS, "", " 0a1b2c3d4e5f6071"), "permission.resource.id"),
    ],
    ids=[
        "missing", "action-unspecified", "action-99", "type-unspecified", "type-99",
        "org-not-hex", "org-all-zeros", "org-uppercase", "id-too-short", "id-too-long",
        "id-leading-space",
    ],
)
def test_invalid_permission_is_invalid_argument(
    client: Client, world: World, permission: types_pb2.Permission | None, field: str
) -> None:
    req = access_service_pb2.CheckAccessRequest(token=world.admin.token)
    if permission is not None:
        req.permission.CopyFrom(permission)
    with pytest.raises(grpc.RpcError) as exc:
        client.access.CheckAccess(req)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(exc.value)
    assert info.domain == "authzd"
    assert info.reason == "ERROR_REASON_INVALID_PERMISSION"
    assert info.metadata["field"] == field


def test_invalid_permission_wins_over_an_unknown_token(client: Client, world: World) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        check(client, "garbage", perm(0, BUCKETS))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(exc.value).metadata["field"] == "permission.action"


# -- BatchCheckAccess ------------------------------------------------------------


def test_batch_answers_in_order_equal_to_unary_answers(
    client: Client, world: World, clock: FakeClock
) -> None:
    a, g, b1, b2 = world.org_a, world.org_g, world.bucket_a1, world.bucket_a2
    reader = world.create(client, perm(R, BUCKETS, a, b1)).token
    inactive = world.create(client, perm(R, BUCKETS, a))
    world.set_auth_status(client, inactive.authorization.id, types_pb2.STATUS_INACTIVE)
    expiring = world.create(client, perm(R, BUCKETS, a), expire_in=5, clock=clock).token
    bobs = world.create(client, perm(R, BUCKETS, a), user_id=world.bob).token
    world.set_user_status(client, world.bob, types_pb2.STATUS_INACTIVE)
    clock.advance(5)
    checks = [
        (reader, perm(R, BUCKETS, a, b1)),
        (reader, perm(R, BUCKETS, a, b2)),
        ("nope", perm(R, BUCKETS, a, b1)),
        (inactive.token, perm(R, BUCKETS, a)),
        (expiring, perm(R, BUCKETS, a)),
        (bobs, perm(R, BUCKETS, a)),
        (world.admin.token, perm(W, INSTANCE)),
        (reader, perm(W, BUCKETS, a, b1)),
        (world.admin.token, perm(R, BUCKETS, g, world.bucket_g)),
        (reader, perm(R, BUCKETS, a, b1)),
    ]
    batch = client.access.BatchCheckAccess(
        access_service_pb2.BatchCheckAccessRequest(
            checks=[access_service_pb2.CheckAccessRequest(token=t, permission=p) for t, p in checks]
        )
    )
    unary = [check(client, t, p) for t, p in checks]
    assert list(batch.results) == unary
    assert [r.reason for r in batch.results] == [
        ALLOWED, NO_MATCH, TOKEN_UNKNOWN, TOKEN_INACTIVE, TOKEN_EXPIRED, USER_INACTIVE,
        ALLOWED, NO_MATCH, ALLOWED, ALLOWED,
    ]


def test_empty_batch_gives_empty_results(client: Client, world: World) -> None:
    resp = client.access.BatchCheckAccess(access_service_pb2.BatchCheckAccessRequest())
    assert len(resp.results) == 0


def _batch(token: str, n: int) -> access_service_pb2.BatchCheckAccessRequest:
    req = access_service_pb2.BatchCheckAccessRequest()
    one = access_service_pb2.CheckAccessRequest(token=token, permission=perm(R, BUCKETS))
    req.checks.extend([one] * n)
    return req


def test_batch_of_exactly_10000_is_answered(client: Client, world: World) -> None:
    resp = client.access.BatchCheckAccess(_batch(world.admin.token, 10_000))
    assert len(resp.results) == 10_000
    assert all(r.allowed for r in resp.results)


def test_batch_over_10000_is_invalid_argument(client: Client, world: World) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.access.BatchCheckAccess(_batch(world.admin.token, 10_001))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(exc.value)
    assert info.reason == "ERROR_REASON_INVALID_ARGUMENT"
    assert info.metadata["field"] == "checks"


def test_one_invalid_check_fails_the_batch_naming_it(client: Client, world: World) -> None:
    token = world.admin.token
    good = access_service_pb2.CheckAccessRequest(token=token, permission=perm(R, BUCKETS))
    bad = access_service_pb2.CheckAccessRequest(token=token, permission=perm(R, 0))
    with pytest.raises(grpc.RpcError) as exc:
        client.access.BatchCheckAccess(
            access_service_pb2.BatchCheckAccessRequest(checks=[good, good, bad, good])
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(exc.value)
    assert info.reason == "ERROR_REASON_INVALID_PERMISSION"
    assert info.metadata["field"] == "checks[2].permission.resource.type"
