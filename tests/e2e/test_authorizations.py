"""AuthorizationService end to end (SPEC §3, §4, §6), and caller authentication
of the admin RPCs (SPEC §4: one and the same UNAUTHENTICATED for every cause)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    bucket_service_pb2,
    config_service_pb2,
    organization_service_pb2,
    types_pb2,
    user_service_pb2,
)
from google.protobuf import field_mask_pb2, timestamp_pb2

from service.app.clock import FakeClock
from service.domain.permissions import (
    Action,
    Permission,
    ResourceType,
    format_permission,
)
from service.domain.presets import all_access_permissions, operator_permissions
from service.domain.tokens import TokenKind, new_token
from tests.conftest import ADMIN_USER, Admin, Client, error_info, md, reason_of
from tests.helpers import assert_error, fails, perm

pb = authorization_service_pb2
R, W = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
AUTHS = types_pb2.RESOURCE_TYPE_AUTHORIZATIONS
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS
ORGS = types_pb2.RESOURCE_TYPE_ORGS
USERS = types_pb2.RESOURCE_TYPE_USERS
INSTANCE = types_pb2.RESOURCE_TYPE_INSTANCE
ACTIVE, INACTIVE = types_pb2.STATUS_ACTIVE, types_pb2.STATUS_INACTIVE

UNKNOWN_ID = "0f0e0d0c0b0a0908"  # well-formed, never created
START = 1_800_000_000  # FakeClock's default start

# The 23 InfluxDB spellings, written out from SPEC §1 (independent of the code).
SPEC_TYPES = [
    "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs",
    "users", "variables", "scrapers", "secrets", "labels", "views", "documents",
    "notificationRules", "notificationEndpoints", "checks", "dbrp", "notebooks",
    "annotations", "remotes", "replications", "instance",
]


def texts(perms: Iterable[types_pb2.Permission]) -> list[str]:
    return [
        format_permission(
            Permission(Action(p.action), ResourceType(p.resource.type), p.resource.org_id,
                       p.resource.id)
        )
        for p in perms
    ]


def _request(world: World) -> pb.CreateAuthorizationRequest:
    """A valid create request (org acme, read its buckets), to add to."""
    return pb.CreateAuthorizationRequest(
        org_id=world.org_a, permissions=[perm(R, BUCKETS, world.org_a)]
    )


@dataclass
class World:
    """Setup's admin (org acme, bucket telemetry) plus org globex with a bucket,
    and a second user bob."""

    client: Client
    admin: Admin
    org_a: str
    bucket_a: str
    org_g: str
    bucket_g: str
    bob: str

    def create(
        self, *perms: types_pb2.Permission, token: str = "", **fields: Any
    ) -> pb.CreateAuthorizationResponse:
        if "org" not in fields:  # org_id and org are a oneof: set one
            fields.setdefault("org_id", self.org_a)
        return self.client.auths.CreateAuthorization(
            pb.CreateAuthorizationRequest(permissions=perms, **fields),
            metadata=md(token or self.admin.token),
        )

    def all_access(self, user_id: str = "", org_id: str = "") -> pb.CreateAuthorizationResponse:
        return self.create(preset=pb.PRESET_ALL_ACCESS, user_id=user_id,
                           org_id=org_id or self.org_a)

    def get(self, auth_id: str, token: str = "") -> types_pb2.Authorization:
        return self.client.auths.GetAuthorization(
            pb.GetAuthorizationRequest(id=auth_id), metadata=md(token or self.admin.token)
        ).authorization

    def page(self, token: str = "", **fields: Any) -> pb.ListAuthorizationsResponse:
        return self.client.auths.ListAuthorizations(
            pb.ListAuthorizationsRequest(**fields), metadata=md(token or self.admin.token)
        )

    def list_ids(self, token: str = "", **fields: Any) -> list[str]:
        return [a.id for a in self.page(token, **fields).authorizations]

    def update(
        self, auth_id: str, paths: list[str], token: str = "", **fields: Any
    ) -> types_pb2.Authorization:
        return self.client.auths.UpdateAuthorization(
            pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=auth_id, **fields),
                update_mask=field_mask_pb2.FieldMask(paths=paths),
            ),
            metadata=md(token or self.admin.token),
        ).authorization

    def delete(self, auth_id: str, token: str = "") -> None:
        self.client.auths.DeleteAuthorization(
            pb.DeleteAuthorizationRequest(id=auth_id), metadata=md(token or self.admin.token)
        )

    def check(self, token: str, p: types_pb2.Permission) -> access_service_pb2.CheckAccessResponse:
        return self.client.access.CheckAccess(
            access_service_pb2.CheckAccessRequest(token=token, permission=p)
        )


@pytest.fixture
def world(client: Client, admin: Admin) -> World:
    meta = md(admin.token)
    g = client.orgs.CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(name="globex"), metadata=meta
    ).organization.id
    bg = client.buckets.CreateBucket(
        bucket_service_pb2.CreateBucketRequest(org_id=g, name="g-bucket"), metadata=meta
    ).bucket.id
    bob = client.users.CreateUser(
        user_service_pb2.CreateUserRequest(name="bob"), metadata=meta
    ).user.id
    return World(client, admin, admin.org_id, admin.bucket_id, g, bg, bob)


# -- CreateAuthorization: presets ------------------------------------------------


def test_operator_preset_is_the_46_global_permissions(world: World) -> None:
    r = world.create(preset=pb.PRESET_OPERATOR, description="ops")
    got = texts(r.authorization.permissions)
    assert len(got) == 46
    assert got == [str(p) for p in operator_permissions()]
    assert set(got) == {f"{a}:{t}" for t in SPEC_TYPES for a in ("read", "write")}
    assert r.authorization.description == "ops"


@pytest.mark.parametrize("owner", ["caller", "bob"])
def test_all_access_preset_is_exactly_spec(world: World, owner: str) -> None:
    o = world.org_a
    u = world.admin.user_id if owner == "caller" else world.bob
    r = world.all_access(user_id="" if owner == "caller" else world.bob)
    got = texts(r.authorization.permissions)
    assert r.authorization.user_id == u
    assert len(got) == 45
    assert got == [str(p) for p in all_access_permissions(o, u)]
    expected = {f"read:orgs/{o}", f"read:users/{u}", f"write:users/{u}"} | {
        f"{a}:orgs/{o}/{t}"
        for t in SPEC_TYPES
        if t not in ("instance", "orgs")
        for a in ("read", "write")
    }
    assert set(got) == expected


def test_unknown_preset_is_invalid(world: World) -> None:
    err = fails(world.create, preset=99)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert error_info(err).metadata["field"] == "preset"


# -- CreateAuthorization: explicit permissions, owner and org --------------------


def test_bucket_read_write_token(world: World) -> None:
    a, b = world.org_a, world.bucket_a
    granted = [perm(R, BUCKETS, a, b), perm(W, BUCKETS, a, b)]
    r = world.create(*granted, description="telemetry rw")
    auth = r.authorization
    assert texts(auth.permissions) == texts(granted)
    assert [(p.resource.name, p.resource.org) for p in auth.permissions] == [
        ("telemetry", "acme")
    ] * 2
    assert (auth.org_id, auth.org) == (a, "acme")
    assert auth.description == "telemetry rw" and auth.status == ACTIVE
    assert auth.create_time.seconds == START and auth.update_time == auth.create_time
    assert world.check(r.token, perm(W, BUCKETS, a, b)).allowed
    assert world.check(r.token, perm(R, BUCKETS, a, b)).allowed
    assert not world.check(r.token, perm(W, BUCKETS, a)).allowed


def test_user_defaults_to_the_caller(world: World) -> None:
    auth = world.create(perm(R, BUCKETS, world.org_a)).authorization
    assert (auth.user_id, auth.user) == (world.admin.user_id, ADMIN_USER)


def test_user_and_org_by_name(world: World) -> None:
    auth = world.create(perm(R, BUCKETS, world.org_g), org="globex", user="bob").authorization
    assert (auth.org_id, auth.org) == (world.org_g, "globex")
    assert (auth.user_id, auth.user) == (world.bob, "bob")


def test_user_by_id(world: World) -> None:
    auth = world.create(perm(R, BUCKETS, world.org_a), user_id=world.bob).authorization
    assert (auth.user_id, auth.user) == (world.bob, "bob")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"org_id": UNKNOWN_ID}, "ORGANIZATION_NOT_FOUND"),
        ({"org_id": "", "org": "no-such-org"}, "ORGANIZATION_NOT_FOUND"),
        ({"user_id": UNKNOWN_ID}, "USER_NOT_FOUND"),
        ({"user": "no-such-user"}, "USER_NOT_FOUND"),
    ],
)
def test_unknown_org_or_user_is_not_found(
    world: World, fields: dict[str, str], reason: str
) -> None:
    err = fails(world.create, perm(R, BUCKETS), **fields)
    assert_error(err, grpc.StatusCode.NOT_FOUND, reason)


def test_org_and_user_are_oneofs() -> None:
    """org_id/org and user_id/user are oneofs: a client cannot send both (the
    one set last wins), so "both given" needs no answer on gRPC."""
    req = pb.CreateAuthorizationRequest(org_id="0a1b2c3d4e5f6071")
    req.org = "acme"
    assert (req.WhichOneof("organization"), req.org_id) == ("org", "")
    req.user_id = "0a1b2c3d4e5f6071"
    req.user = "bob"
    assert req.WhichOneof("owner") == "user"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"org_id": ""}, "org_id", "INVALID_ARGUMENT"),
        ({"org_id": "ACME"}, "org_id", "INVALID_ID"),
        ({"user_id": "0000000000000000"}, "user_id", "INVALID_ID"),
        ({"description": "x" * 1025}, "description", "INVALID_ARGUMENT"),
    ],
)
def test_bad_org_user_or_description_is_invalid(
    world: World, fields: dict[str, str], field: str, reason: str
) -> None:
    err = fails(world.client.auths.CreateAuthorization,
                pb.CreateAuthorizationRequest(
                    **{"org_id": world.org_a, **fields},
                    permissions=[perm(R, BUCKETS, world.org_a)]),
                metadata=md(world.admin.token))
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert error_info(err).metadata["field"] == field


def test_permission_of_another_org_is_invalid(world: World) -> None:
    err = fails(world.create, perm(R, BUCKETS, world.org_a), perm(R, BUCKETS, world.org_g))
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PERMISSION")
    assert error_info(err).metadata["field"] == "permissions[1].resource.org_id"


@pytest.mark.parametrize("with_org", [True, False])
def test_bucket_of_another_org_is_invalid(world: World, with_org: bool) -> None:
    p = perm(R, BUCKETS, world.org_a if with_org else "", world.bucket_g)
    err = fails(world.create, perm(R, BUCKETS, world.org_a, world.bucket_a), p)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "BUCKET_NOT_IN_ORG")
    assert error_info(err).metadata["field"] == "permissions[1].resource.id"


def test_unknown_bucket_is_invalid(world: World) -> None:
    err = fails(world.create, perm(W, BUCKETS, world.org_a, UNKNOWN_ID))
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "BUCKET_NOT_IN_ORG")


def test_no_permissions_and_no_preset_is_invalid(world: World) -> None:
    err = fails(world.create)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert error_info(err).metadata["field"] == "permissions"


def test_permissions_and_preset_together_are_invalid(world: World) -> None:
    err = fails(world.create, perm(R, BUCKETS, world.org_a), preset=pb.PRESET_ALL_ACCESS)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert error_info(err).metadata["field"] == "permissions"


@pytest.mark.parametrize(
    ("p", "field"),
    [
        (perm(0, BUCKETS), "permissions[0].action"),
        (perm(R, 0), "permissions[0].resource.type"),
        (perm(R, BUCKETS, "nope"), "permissions[0].resource.org_id"),
        (perm(R, BUCKETS, "", "0000000000000000"), "permissions[0].resource.id"),
    ],
)
def test_malformed_permission_is_invalid(world: World, p: types_pb2.Permission, field: str) -> None:
    err = fails(world.create, p)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PERMISSION")
    assert error_info(err).metadata["field"] == field


@pytest.mark.parametrize("seconds_from_now", [-3600, -1, 0])
def test_expire_time_not_in_the_future_is_invalid(
    world: World, clock: FakeClock, seconds_from_now: int
) -> None:
    req = _request(world)
    req.expire_time.FromDatetime(clock.now() + timedelta(seconds=seconds_from_now))
    err = fails(world.client.auths.CreateAuthorization, req, metadata=md(world.admin.token))
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_EXPIRE_TIME")
    assert error_info(err).metadata["field"] == "expire_time"
    assert world.list_ids() == [world.admin.authorization_id]


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(2**62, 0), (253_402_300_800, 0), (START + 3600, 1_000_000_000), (START + 3600, -1)],
)
def test_expire_time_out_of_range_is_invalid_not_internal(
    world: World, seconds: int, nanos: int
) -> None:
    req = _request(world)
    req.expire_time.seconds, req.expire_time.nanos = seconds, nanos
    err = fails(world.client.auths.CreateAuthorization, req, metadata=md(world.admin.token))
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_EXPIRE_TIME")
    assert error_info(err).metadata["field"] == "expire_time"


def test_expire_time_at_the_end_of_year_9999_is_accepted(world: World) -> None:
    req = _request(world)
    req.expire_time.seconds = 253_402_300_799
    auth = world.client.auths.CreateAuthorization(req, metadata=md(world.admin.token)).authorization
    assert world.get(auth.id).expire_time.seconds == 253_402_300_799


def test_expire_time_in_the_future_is_kept(world: World, clock: FakeClock) -> None:
    req = _request(world)
    req.expire_time.FromDatetime(clock.now() + timedelta(days=30))
    auth = world.client.auths.CreateAuthorization(req, metadata=md(world.admin.token)).authorization
    assert auth.expire_time.seconds == START + 30 * 86400
    assert world.get(auth.id).expire_time.seconds == START + 30 * 86400


# -- CreateAuthorization: a token grants only what it holds ------------------------


@pytest.mark.parametrize(
    ("wanted", "missing"),
    [
        (lambda w: [perm(R, BUCKETS, w.org_a), perm(R, BUCKETS)], lambda w: "read:buckets"),
        (lambda w: [perm(W, ORGS, "", w.org_a)], lambda w: f"write:orgs/{w.org_a}"),
        (lambda w: [perm(W, INSTANCE), perm(R, BUCKETS)], lambda w: "write:instance"),
        (
            lambda w: [perm(R, BUCKETS, w.org_a, w.bucket_a), perm(R, USERS, "", w.bob)],
            lambda w: f"read:users/{w.bob}",
        ),
    ],
    ids=["global-grant", "write-own-org", "instance", "another-user"],
)
def test_a_token_cannot_grant_what_it_does_not_hold(
    world: World,
    wanted: Callable[[World], list[types_pb2.Permission]],
    missing: Callable[[World], str],
) -> None:
    aa = world.all_access().token
    err = fails(world.create, *wanted(world), token=aa)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert error_info(err).metadata["permission"] == missing(world)
    assert missing(world) in err.details()


def test_all_access_token_mints_what_it_holds(world: World) -> None:
    aa = world.all_access().token
    a, b = world.org_a, world.bucket_a
    rw = world.create(perm(R, BUCKETS, a, b), perm(W, BUCKETS, a, b), token=aa).authorization
    assert rw.user_id == world.admin.user_id and rw.org_id == a
    again = world.create(preset=pb.PRESET_ALL_ACCESS, token=aa).authorization
    assert len(again.permissions) == 45


def test_only_an_operator_token_creates_an_operator_token(world: World) -> None:
    aa = world.all_access().token
    err = fails(world.create, preset=pb.PRESET_OPERATOR, token=aa)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert error_info(err).metadata["permission"] == "read:authorizations"
    ops = world.create(preset=pb.PRESET_OPERATOR).token
    assert len(world.create(preset=pb.PRESET_OPERATOR, token=ops).authorization.permissions) == 46


def test_all_access_cannot_create_for_another_user(world: World) -> None:
    aa = world.all_access().token
    err = fails(world.create, perm(R, BUCKETS, world.org_a), user_id=world.bob, token=aa)
    # bob is invisible to this token: answered exactly as a missing user (issue 9).
    assert_error(err, grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    assert error_info(err).metadata["id"] == world.bob


# -- org isolation ------------------------------------------------------------------


def test_all_access_of_one_org_cannot_touch_another_org(world: World) -> None:
    a, g = world.org_a, world.org_g
    aa = world.all_access(org_id=a).token
    mine = world.create(perm(R, BUCKETS, a), token=aa).authorization.id
    # Owned by the same user, in org globex: still invisible to acme's token.
    theirs = world.create(perm(R, BUCKETS, g), org_id=g).authorization.id

    assert_error(fails(world.get, theirs, token=aa), grpc.StatusCode.NOT_FOUND,
                 "AUTHORIZATION_NOT_FOUND")
    assert theirs not in world.list_ids(token=aa)
    assert mine in world.list_ids(token=aa)
    # globex is invisible to acme's token: the filter answers as for a missing org.
    assert_error(fails(world.list_ids, token=aa, org_id=g), grpc.StatusCode.NOT_FOUND,
                 "ORGANIZATION_NOT_FOUND")
    assert world.list_ids(token=aa, id=theirs) == []

    # globex is invisible to acme's token: NOT_FOUND, as for a missing org (issue 9).
    err = fails(world.create, perm(R, BUCKETS, g), org_id=g, token=aa)
    assert_error(err, grpc.StatusCode.NOT_FOUND, "ORGANIZATION_NOT_FOUND")
    assert g in err.details()  # the id the caller gave, nothing more

    err = fails(world.update, theirs, ["status"], token=aa, status=INACTIVE)
    assert_error(err, grpc.StatusCode.NOT_FOUND, "AUTHORIZATION_NOT_FOUND")
    err = fails(world.delete, theirs, token=aa)
    assert_error(err, grpc.StatusCode.NOT_FOUND, "AUTHORIZATION_NOT_FOUND")
    # Untouched: the NOT_FOUND errors did not hide a change.
    still = world.get(theirs)
    assert still.status == ACTIVE


def test_invisible_and_missing_authorizations_look_the_same(world: World) -> None:
    aa = world.all_access().token
    theirs = world.create(perm(R, BUCKETS, world.org_g), org_id=world.org_g).authorization.id
    e1 = fails(world.get, theirs, token=aa)
    e2 = fails(world.get, UNKNOWN_ID, token=aa)
    assert e1.code() == e2.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(e1) == reason_of(e2) == "ERROR_REASON_AUTHORIZATION_NOT_FOUND"
    assert e1.details().replace(theirs, "ID") == e2.details().replace(UNKNOWN_ID, "ID")


# -- the token is returned once --------------------------------------------------------


def test_token_is_returned_once_and_only_its_hint_after(world: World) -> None:
    r = world.create(perm(R, BUCKETS, world.org_a))
    assert r.token.startswith("azt_") and len(r.token) == 53
    assert r.authorization.token_hint == r.token[:8]
    digest = hashlib.sha256(r.token.encode()).hexdigest()

    got = world.client.auths.GetAuthorization(
        pb.GetAuthorizationRequest(id=r.authorization.id), metadata=md(world.admin.token)
    )
    listed = world.page()
    for resp in (got, listed):
        raw = resp.SerializeToString()
        assert r.token.encode() not in raw
        assert r.token[8:].encode() not in raw
        assert digest.encode() not in raw
        assert world.admin.token.encode() not in raw
    assert got.authorization.token_hint == r.token[:8]
    hints = {a.id: a.token_hint for a in listed.authorizations}
    assert hints == {
        world.admin.authorization_id: world.admin.token[:8],
        r.authorization.id: r.token[:8],
    }


# -- Get ------------------------------------------------------------------------------


def test_get_returns_the_stored_authorization(world: World) -> None:
    created = world.create(perm(R, BUCKETS, world.org_g), org_id=world.org_g, user_id=world.bob,
                           description="for bob").authorization
    got = world.get(created.id)
    assert got == created
    assert (got.org, got.user, got.description) == ("globex", "bob", "for bob")


@pytest.mark.parametrize("bad", ["", "nope", "0" * 16, "0A1B2C3D4E5F6071"])
def test_get_with_a_malformed_id_is_invalid(world: World, bad: str) -> None:
    err = fails(world.get, bad)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID")
    assert error_info(err).metadata["field"] == "id"


def test_get_unknown_is_not_found(world: World) -> None:
    err = fails(world.get, UNKNOWN_ID)
    assert_error(err, grpc.StatusCode.NOT_FOUND, "AUTHORIZATION_NOT_FOUND")


def test_visibility_needs_both_the_org_grant_and_the_user_grant(world: World) -> None:
    """SPEC §4: visible iff read:orgs/O/authorizations/<id> and read:users/U."""
    bobs_aa = world.all_access(user_id=world.bob).token
    bobs = world.create(perm(R, BUCKETS, world.org_a), user_id=world.bob).authorization.id
    admins = world.create(perm(R, BUCKETS, world.org_a)).authorization.id
    assert world.get(bobs, token=bobs_aa).id == bobs
    assert_error(fails(world.get, admins, token=bobs_aa), grpc.StatusCode.NOT_FOUND,
                 "AUTHORIZATION_NOT_FOUND")
    listed = set(world.list_ids(token=bobs_aa))
    assert bobs in listed and admins not in listed
    assert world.admin.authorization_id not in listed
    assert all(a.user_id == world.bob for a in world.page(token=bobs_aa).authorizations)

    # A token holding only the org grant (no users grant) sees nothing.
    org_only = world.create(perm(R, AUTHS, world.org_a)).token
    assert world.list_ids(token=org_only) == []
    assert_error(fails(world.get, admins, token=org_only), grpc.StatusCode.NOT_FOUND,
                 "AUTHORIZATION_NOT_FOUND")
    # A token holding one id of the org grant sees that one only.
    one = world.create(perm(R, AUTHS, world.org_a, admins),
                       perm(R, USERS, "", world.admin.user_id)).token
    assert world.list_ids(token=one) == [admins]
    assert world.get(admins, token=one).id == admins


# -- List ------------------------------------------------------------------------------


def test_list_pages_through_everything(world: World) -> None:
    ids = {world.admin.authorization_id}
    for i in range(6):
        ids.add(world.create(perm(R, BUCKETS, world.org_a), description=f"t{i}").authorization.id)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        resp = world.page(page_size=3, page_token=token)
        pages += 1
        assert len(resp.authorizations) <= 3
        seen += [a.id for a in resp.authorizations]
        token = resp.next_page_token
        if not token:
            break
        assert pages < 10
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    assert world.list_ids() == sorted(ids)  # default page size covers all


def test_list_has_no_next_page_token_after_the_last_item(world: World) -> None:
    """AIP-158 (STYLE.md, SPEC §5): an empty next_page_token marks the end, so the
    page that holds the last item must not ask for one more round trip."""
    for _ in range(3):
        world.create(perm(R, BUCKETS, world.org_a))
    first = world.page(page_size=2)
    assert len(first.authorizations) == 2 and first.next_page_token
    last = world.page(page_size=2, page_token=first.next_page_token)
    assert len(last.authorizations) == 2
    assert last.next_page_token == ""


def test_list_pages_skip_invisible_items(world: World) -> None:
    bobs_aa = world.all_access(user_id=world.bob)
    want = {bobs_aa.authorization.id}
    for i in range(8):
        owner = world.bob if i % 3 == 0 else ""
        a = world.create(perm(R, BUCKETS, world.org_a), user_id=owner).authorization
        if owner:
            want.add(a.id)
    seen: list[str] = []
    token = ""
    for _ in range(10):
        resp = world.page(token=bobs_aa.token, page_size=1, page_token=token)
        assert len(resp.authorizations) <= 1
        seen += [a.id for a in resp.authorizations]
        token = resp.next_page_token
        if not token:
            break
    assert token == ""
    assert sorted(seen) == sorted(want)


def test_negative_page_size_is_invalid(world: World) -> None:
    err = fails(world.page, page_size=-1)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE")
    assert error_info(err).metadata["field"] == "page_size"


@pytest.mark.parametrize("garbage", ["garbage", "!!!", "é", "YXV0aG9yaXphdGlvbnM6eHl6"])
def test_garbage_page_token_is_invalid(world: World, garbage: str) -> None:
    err = fails(world.page, page_token=garbage)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE")
    assert error_info(err).metadata["field"] == "page_token"


def test_page_token_of_another_list_is_invalid(world: World) -> None:
    meta = md(world.admin.token)
    world.client.users.CreateUser(user_service_pb2.CreateUserRequest(name="carol"), metadata=meta)
    users_token = world.client.users.ListUsers(
        user_service_pb2.ListUsersRequest(page_size=1), metadata=meta
    ).next_page_token
    assert users_token
    err = fails(world.page, page_token=users_token)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE")


def test_list_filters(world: World) -> None:
    a, g, bob, me = world.org_a, world.org_g, world.bob, world.admin.user_id
    setup = world.admin.authorization_id
    a_bob = world.create(perm(R, BUCKETS, a), user_id=bob).authorization.id
    g_bob = world.create(perm(R, BUCKETS, g), org_id=g, user_id=bob).authorization.id
    g_me = world.create(perm(R, BUCKETS, g), org_id=g).authorization.id

    def ids(**f: str) -> set[str]:
        return set(world.list_ids(**f))

    assert ids() == {setup, a_bob, g_bob, g_me}
    assert ids(user_id=bob) == ids(user="bob") == {a_bob, g_bob}
    assert ids(user_id=me) == ids(user=ADMIN_USER) == {setup, g_me}
    assert ids(org_id=g) == ids(org="globex") == {g_bob, g_me}
    assert ids(org_id=a) == ids(org="acme") == {setup, a_bob}
    assert ids(org="globex", user="bob") == {g_bob}
    assert ids(id=g_me) == {g_me}
    assert ids(id=g_me, user="bob") == set()
    assert ids(id=UNKNOWN_ID) == set()


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        ({"user_id": "nope"}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID"),
        ({"org_id": "nope"}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID"),
        ({"id": "nope"}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID"),
        ({"user": "no-such-user"}, grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND"),
        ({"org": "no-such-org"}, grpc.StatusCode.NOT_FOUND, "ORGANIZATION_NOT_FOUND"),
    ],
)
def test_list_with_bad_filters(
    world: World, fields: dict[str, str], code: grpc.StatusCode, reason: str
) -> None:
    assert_error(fails(world.page, **fields), code, reason)


# -- Update -----------------------------------------------------------------------------


def test_update_status_and_description_move_update_time(world: World, clock: FakeClock) -> None:
    r = world.create(perm(R, BUCKETS, world.org_a), description="before")
    auth_id = r.authorization.id
    clock.advance(30)
    updated = world.update(auth_id, ["status"], status=INACTIVE, description="ignored")
    assert updated.status == INACTIVE and updated.description == "before"
    assert updated.create_time.seconds == START
    assert updated.update_time.seconds == START + 30
    assert list(updated.permissions) == list(r.authorization.permissions)

    clock.advance(15)
    updated = world.update(auth_id, ["description"], description="after", status=ACTIVE)
    assert updated.status == INACTIVE and updated.description == "after"
    assert updated.update_time.seconds == START + 45

    got = world.get(auth_id)
    assert (got.status, got.description, got.update_time.seconds) == (INACTIVE, "after", START + 45)
    assert got.create_time.seconds == START

    clock.advance(1)
    both = world.update(auth_id, ["status", "description"], status=ACTIVE, description="")
    assert (both.status, both.description, both.update_time.seconds) == (ACTIVE, "", START + 46)


def test_update_without_mask_updates_the_fields_that_are_set(world: World) -> None:
    auth_id = world.create(perm(R, BUCKETS, world.org_a), description="d").authorization.id
    updated = world.update(auth_id, [], description="new")
    assert (updated.status, updated.description) == (ACTIVE, "new")
    err = fails(world.update, auth_id, [])
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_UPDATE_MASK")


@pytest.mark.parametrize("path", ["permissions", "token_hint", "org_id", "user_id", "expire_time",
                                  "Status", "nope"])
def test_update_with_an_unknown_mask_path_is_invalid(world: World, path: str) -> None:
    auth_id = world.create(perm(R, BUCKETS, world.org_a)).authorization.id
    err = fails(world.update, auth_id, ["status", path], status=INACTIVE)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_UPDATE_MASK")
    assert error_info(err).metadata["field"] == "update_mask"
    assert world.get(auth_id).status == ACTIVE


@pytest.mark.parametrize("status", [types_pb2.STATUS_UNSPECIFIED, 99])
def test_update_to_a_bad_status_is_invalid(world: World, status: int) -> None:
    auth_id = world.create(perm(R, BUCKETS, world.org_a)).authorization.id
    err = fails(world.update, auth_id, ["status"], status=status)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).metadata["field"] == "authorization.status"


@pytest.mark.parametrize("bad", ["", "abc", "0" * 16])
def test_update_and_delete_with_a_malformed_id_name_their_fields(world: World, bad: str) -> None:
    err = fails(world.update, bad, ["status"], status=INACTIVE)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID")
    assert error_info(err).metadata["field"] == "authorization.id"
    err = fails(world.delete, bad)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID")
    assert error_info(err).metadata["field"] == "id"


def test_update_unknown_is_not_found(world: World) -> None:
    err = fails(world.update, UNKNOWN_ID, ["status"], status=INACTIVE)
    assert_error(err, grpc.StatusCode.NOT_FOUND, "AUTHORIZATION_NOT_FOUND")


def test_visible_but_not_writable_is_permission_denied(world: World) -> None:
    a, me = world.org_a, world.admin.user_id
    target = world.create(perm(R, BUCKETS, a)).authorization.id
    reader = world.create(perm(R, AUTHS, a), perm(R, USERS, "", me)).token
    assert world.get(target, token=reader).id == target

    err = fails(world.update, target, ["status"], token=reader, status=INACTIVE)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert error_info(err).metadata["permission"] == f"write:orgs/{a}/authorizations/{target}"
    err = fails(world.delete, target, token=reader)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")

    # Half the write pair is not enough either.
    half = world.create(perm(R, AUTHS, a), perm(W, AUTHS, a), perm(R, USERS, "", me)).token
    err = fails(world.delete, target, token=half)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert error_info(err).metadata["permission"] == f"write:users/{me}"

    assert world.get(target).status == ACTIVE  # nothing changed


def test_writer_with_the_pair_may_update_and_delete(world: World) -> None:
    """The write pair and coverage of the target (SPEC §4): the writer holds
    read:orgs/A/buckets, the target's only permission."""
    a, me = world.org_a, world.admin.user_id
    target = world.create(perm(R, BUCKETS, a)).authorization.id
    pair_only = world.create(perm(R, AUTHS, a), perm(W, AUTHS, a),
                             perm(R, USERS, "", me), perm(W, USERS, "", me)).token
    err = fails(world.update, target, ["status"], token=pair_only, status=INACTIVE)
    assert_error(err, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert error_info(err).metadata["permission"] == f"read:orgs/{a}/buckets"
    writer = world.create(perm(R, AUTHS, a), perm(W, AUTHS, a), perm(R, USERS, "", me),
                          perm(W, USERS, "", me), perm(R, BUCKETS, a)).token
    assert world.update(target, ["status"], token=writer, status=INACTIVE).status == INACTIVE
    world.delete(target, token=writer)
    assert_error(fails(world.get, target), grpc.StatusCode.NOT_FOUND, "AUTHORIZATION_NOT_FOUND")


# -- the instance keeps a way in ------------------------------------------------------------


def test_last_operator_cannot_be_deactivated_or_deleted(world: World) -> None:
    setup = world.admin.authorization_id
    err = fails(world.update, setup, ["status"], status=INACTIVE)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    err = fails(world.delete, setup)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    assert world.get(setup).status == ACTIVE
    # Setting ACTIVE on the last operator is fine.
    assert world.update(setup, ["status"], status=ACTIVE).status == ACTIVE


def test_last_operator_can_go_once_a_second_exists(world: World) -> None:
    setup = world.admin.authorization_id
    second = world.create(preset=pb.PRESET_OPERATOR)
    assert world.update(setup, ["status"], status=INACTIVE).status == INACTIVE
    # Now the second is the last active one.
    err = fails(world.update, second.authorization.id, ["status"], token=second.token,
                status=INACTIVE)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    err = fails(world.delete, second.authorization.id, token=second.token)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    world.delete(setup, token=second.token)
    ids = world.list_ids(token=second.token)
    assert setup not in ids and second.authorization.id in ids


def test_concurrent_removals_keep_one_operator(world: World) -> None:
    operators = [world.admin.authorization_id] + [
        world.create(preset=pb.PRESET_OPERATOR).authorization.id for _ in range(5)
    ]
    # An Operator token itself (it must cover what it removes), but one that
    # expires, so it never counts as the way in.
    expire = timestamp_pb2.Timestamp(seconds=int(START) + 3600)
    remover = world.create(preset=pb.PRESET_OPERATOR, expire_time=expire).token

    def remove(i_and_id: tuple[int, str]) -> str:
        i, auth_id = i_and_id
        try:
            if i % 2:
                world.delete(auth_id, token=remover)
            else:
                world.update(auth_id, ["status"], token=remover, status=INACTIVE)
            return "ok"
        except grpc.RpcError as err:
            return reason_of(err)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(remove, enumerate(operators)))
    assert sorted(outcomes) == ["ERROR_REASON_LAST_OPERATOR"] + ["ok"] * 5, outcomes
    listed = world.page(token=remover).authorizations
    active_ops = [x for x in listed if x.id in operators and x.status == ACTIVE]
    assert len(active_ops) == 1


def test_an_explicit_write_instance_token_also_keeps_the_way_in(world: World) -> None:
    world.create(perm(W, INSTANCE))
    world.delete(world.admin.authorization_id)
    err = fails(world.client.auths.ListAuthorizations, pb.ListAuthorizationsRequest(),
                metadata=md(world.admin.token))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_read_instance_only_does_not_count_as_a_way_in(world: World) -> None:
    world.create(perm(R, INSTANCE))
    err = fails(world.delete, world.admin.authorization_id)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")


def test_expired_operator_does_not_count(world: World, clock: FakeClock) -> None:
    req = pb.CreateAuthorizationRequest(org_id=world.org_a, preset=pb.PRESET_OPERATOR)
    req.expire_time.FromDatetime(clock.now() + timedelta(seconds=60))
    world.client.auths.CreateAuthorization(req, metadata=md(world.admin.token))
    clock.advance(60)
    err = fails(world.delete, world.admin.authorization_id)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")


def test_operator_of_an_inactive_user_does_not_count(world: World) -> None:
    world.create(preset=pb.PRESET_OPERATOR, user_id=world.bob)
    world.client.users.UpdateUser(
        user_service_pb2.UpdateUserRequest(
            user=types_pb2.User(id=world.bob, status=INACTIVE),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(world.admin.token),
    )
    err = fails(world.delete, world.admin.authorization_id)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")


def test_inactive_operator_does_not_count(world: World) -> None:
    second = world.create(preset=pb.PRESET_OPERATOR).authorization.id
    world.update(second, ["status"], status=INACTIVE)
    err = fails(world.delete, world.admin.authorization_id)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    world.update(second, ["status"], status=ACTIVE)
    world.delete(world.admin.authorization_id)
    assert_error(fails(world.get, world.admin.authorization_id),
                 grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")


# -- decisions follow changes at once ------------------------------------------------------------


def test_delete_denies_the_next_check_at_once(world: World) -> None:
    p = perm(R, BUCKETS, world.org_a)
    r = world.create(p, perm(R, AUTHS, world.org_a), perm(R, USERS, "", world.admin.user_id))
    assert world.check(r.token, p).allowed
    assert world.list_ids(token=r.token)  # the token works as a caller too
    world.delete(r.authorization.id)
    check = world.check(r.token, p)
    assert not check.allowed
    assert check.reason == access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN
    assert fails(world.page, token=r.token).code() == grpc.StatusCode.UNAUTHENTICATED
    assert_error(fails(world.get, r.authorization.id), grpc.StatusCode.NOT_FOUND,
                 "AUTHORIZATION_NOT_FOUND")
    assert_error(fails(world.delete, r.authorization.id), grpc.StatusCode.NOT_FOUND,
                 "AUTHORIZATION_NOT_FOUND")


def test_deactivate_denies_at_once_and_reactivate_allows_again(world: World) -> None:
    p = perm(W, BUCKETS, world.org_a, world.bucket_a)
    r = world.create(p)
    assert world.check(r.token, p).allowed
    world.update(r.authorization.id, ["status"], status=INACTIVE)
    check = world.check(r.token, p)
    assert not check.allowed
    assert check.reason == access_service_pb2.DECISION_REASON_TOKEN_INACTIVE
    world.update(r.authorization.id, ["status"], status=ACTIVE)
    check = world.check(r.token, p)
    assert check.allowed
    assert check.reason == access_service_pb2.DECISION_REASON_ALLOWED


# -- caller authentication (SPEC §4) ----------------------------------------------------------


Metadata = tuple[tuple[str, str], ...] | None


def _bad_credentials(world: World, clock: FakeClock) -> dict[str, Metadata]:
    caller_perms = [perm(R, AUTHS, world.org_a), perm(R, USERS, "", world.bob)]
    inactive = world.create(*caller_perms, user_id=world.bob)
    world.update(inactive.authorization.id, ["status"], status=INACTIVE)
    deleted = world.create(*caller_perms, user_id=world.bob)
    world.delete(deleted.authorization.id)
    req = pb.CreateAuthorizationRequest(org_id=world.org_a, user_id=world.bob,
                                        permissions=caller_perms)
    req.expire_time.FromDatetime(clock.now() + timedelta(seconds=10))
    expired = world.client.auths.CreateAuthorization(req, metadata=md(world.admin.token)).token
    carol = world.client.users.CreateUser(
        user_service_pb2.CreateUserRequest(name="carol"), metadata=md(world.admin.token)
    ).user.id
    owner_inactive = world.create(perm(R, AUTHS, world.org_a), perm(R, USERS, "", carol),
                                  user_id=carol).token
    # Each of these works before it is spoiled (so the spoiling is what is tested).
    assert world.page(token=owner_inactive).authorizations is not None
    assert world.page(token=expired).authorizations is not None
    world.client.users.UpdateUser(
        user_service_pb2.UpdateUserRequest(
            user=types_pb2.User(id=carol, status=INACTIVE),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(world.admin.token),
    )
    clock.advance(10)
    good = world.admin.token
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    return {
        "missing": None,
        "other header only": (("x-token", good),),
        "empty value": (("authorization", ""),),
        "scheme only": (("authorization", "Token"),),
        "scheme and space": (("authorization", "Token "),),
        "wrong scheme": (("authorization", f"Basic {good}"),),
        "no scheme": (("authorization", good),),
        "malformed": md("azt_not-a-token"),
        "bad checksum": md(tampered),
        "unknown": md(new_token(TokenKind.API, secrets.randbelow)),
        "unknown session": md(new_token(TokenKind.SESSION, secrets.randbelow)),
        "inactive": md(inactive.token),
        "deleted": md(deleted.token),
        "expired": md(expired),
        "owner inactive": md(owner_inactive),
    }


def test_every_unusable_credential_gets_the_same_unauthenticated(
    world: World, clock: FakeClock
) -> None:
    cases = _bad_credentials(world, clock)
    seen = set()
    for name, metadata in cases.items():
        err = fails(world.client.auths.ListAuthorizations, pb.ListAuthorizationsRequest(),
                    metadata=metadata)
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED, name
        assert err.details() == "unauthorized access", name
        info = error_info(err)
        assert info.reason == "ERROR_REASON_UNAUTHENTICATED", name
        seen.add((err.details(), info.SerializeToString(deterministic=True)))
    assert len(seen) == 1, "callers must not be able to tell the causes apart"


@pytest.mark.parametrize(
    "rpc",
    [
        lambda c: c.auths.GetAuthorization(pb.GetAuthorizationRequest(id=UNKNOWN_ID),
                                           metadata=md("azt_x")),
        lambda c: c.auths.CreateAuthorization(pb.CreateAuthorizationRequest(),
                                              metadata=md("azt_x")),
        lambda c: c.auths.DeleteAuthorization(pb.DeleteAuthorizationRequest(id="bad"),
                                              metadata=md("azt_x")),
        lambda c: c.users.ListUsers(user_service_pb2.ListUsersRequest()),
        lambda c: c.config.GetConfig(config_service_pb2.GetConfigRequest(),
                                     metadata=md("azt_x", "Bearer")),
    ],
    ids=["get", "create-empty", "delete-bad-id", "list-users-no-token", "get-config"],
)
def test_authentication_comes_before_validation(
    world: World, rpc: Callable[[Client], object]
) -> None:
    err = fails(rpc, world.client)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "unauthorized access"


@pytest.mark.parametrize("scheme", ["Token", "token", "TOKEN", "Bearer", "bearer", "BEARER",
                                    "bEaReR"])
def test_token_and_bearer_schemes_in_any_case(world: World, scheme: str) -> None:
    ids = [a.id for a in world.client.auths.ListAuthorizations(
        pb.ListAuthorizationsRequest(), metadata=md(world.admin.token, scheme)).authorizations]
    assert ids == [world.admin.authorization_id]


def test_timestamps_are_utc_seconds_of_the_fake_clock(world: World) -> None:
    auth = world.create(perm(R, BUCKETS, world.org_a)).authorization
    assert auth.create_time.ToDatetime(tzinfo=UTC) == datetime.fromtimestamp(START, UTC)


def test_permissions_carry_the_names_the_server_knows(world: World) -> None:
    """Resource.name / Resource.org (output only) in Create, Get, List and Update."""
    a, b = world.org_a, world.bucket_a
    me = world.admin.user_id
    created = world.create(
        perm(R, BUCKETS, a, b), perm(R, ORGS, "", a), perm(R, USERS, "", me), perm(R, BUCKETS, a)
    )
    for auth in (
        created.authorization,
        world.get(created.authorization.id),
        next(x for x in world.page().authorizations if x.id == created.authorization.id),
        world.update(created.authorization.id, ["description"], description="renamed"),
    ):
        got = [(p.resource.name, p.resource.org) for p in auth.permissions]
        assert got == [("telemetry", "acme"), ("acme", ""), (ADMIN_USER, ""), ("", "acme")]
