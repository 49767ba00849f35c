"""Bad input to every admin RPC (SPEC §1, §4, §5): malformed ids, names,
descriptions, enum numbers, pages, masks, unknown names. Each is refused with
the right code, ErrorInfo reason and `field`, and writes nothing. No input is
ever answered INTERNAL or UNKNOWN."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import organization_service_pb2 as org_pb
from authzd.v1 import session_service_pb2 as session_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb
from google.protobuf import field_mask_pb2

from tests.conftest import error_info, md
from tests.helpers import perm

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS
MISSING_ID = "0123456789abcdef"  # well-formed, never created

BAD_IDS = [
    "",  # empty
    "abc",  # too short
    "0a1b2c3d4e5f607",  # 15
    "0a1b2c3d4e5f60710",  # 17
    "0A1B2C3D4E5F6071",  # uppercase
    "0000000000000000",  # all zeros
    "0a1b2c3d4e5f607g",  # not hex
    " 0a1b2c3d4e5f607",  # space
    "0a1b2c3d4e5f607\x00",  # NUL
    "\uff10a1b2c3d4e5f6071",  # full-width digit
    "0x1b2c3d4e5f6071",
]


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


@dataclass
class World:
    """What setup made plus one more of each, all valid."""

    token: str
    user_id: str  # bob
    org_id: str  # acme
    bucket_id: str  # acme/telemetry
    auth_id: str  # a bucket token of bob's
    # (revision, row counts) of the server's store: equal means nothing was written
    snapshot: Callable[[], tuple[int, dict[str, int]]]


@pytest.fixture
def world(client, admin, running) -> World:
    t = md(admin.token)
    bob = client.users.CreateUser(user_pb.CreateUserRequest(name="bob"), metadata=t).user
    client.orgs.CreateOrganization(org_pb.CreateOrganizationRequest(name="globex"), metadata=t)
    auth = client.auths.CreateAuthorization(
        auth_pb.CreateAuthorizationRequest(
            org_id=admin.org_id,
            user_id=bob.id,
            permissions=[perm(READ, BUCKETS, admin.org_id, admin.bucket_id)],
        ),
        metadata=t,
    ).authorization
    return World(admin.token, bob.id, admin.org_id, admin.bucket_id, auth.id, running.snapshot)


def refused(
    client,
    w: World,
    call: Callable[[], object],
    code: grpc.StatusCode,
    reason: str,
    field: str | None = None,
    what: str = "",
) -> grpc.RpcError:
    """Run call; it must fail with code/reason (and field), and write nothing."""
    before = w.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        call()
    err = exc.value
    assert err.code() == code, (what, err.code(), err.details())
    info = error_info(err)
    assert info.domain == "authzd"
    assert info.reason == reason, (what, info.reason, err.details())
    if field is not None:
        assert info.metadata.get("field") == field, (what, dict(info.metadata), err.details())
    assert len(err.details()) < 400, "error messages are bounded"
    assert w.snapshot() == before, f"a refused request wrote to the store ({what})"
    return err


# -- malformed ids -----------------------------------------------------------

# (rpc label, builder(client, world, bad id) -> call, field)
ID_CASES: list[tuple[str, Callable, str]] = [
    (
        "GetUser",
        lambda c, w, x: c.users.GetUser(user_pb.GetUserRequest(id=x), metadata=md(w.token)),
        "id",
    ),
    (
        "UpdateUser",
        lambda c, w, x: c.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=x, name="n"), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "user.id",
    ),
    (
        "DeleteUser",
        lambda c, w, x: c.users.DeleteUser(user_pb.DeleteUserRequest(id=x), metadata=md(w.token)),
        "id",
    ),
    (
        "SetPassword",
        lambda c, w, x: c.users.SetPassword(
            user_pb.SetPasswordRequest(id=x, new_password="good-password"), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "GetOrganization",
        lambda c, w, x: c.orgs.GetOrganization(
            org_pb.GetOrganizationRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "UpdateOrganization",
        lambda c, w, x: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=x, name="n"), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "organization.id",
    ),
    (
        "DeleteOrganization",
        lambda c, w, x: c.orgs.DeleteOrganization(
            org_pb.DeleteOrganizationRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "CreateBucket",
        lambda c, w, x: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org_id=x, name="n"), metadata=md(w.token)
        ),
        "org_id",
    ),
    (
        "GetBucket",
        lambda c, w, x: c.buckets.GetBucket(bucket_pb.GetBucketRequest(id=x), metadata=md(w.token)),
        "id",
    ),
    (
        "ListBuckets",
        lambda c, w, x: c.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(org_id=x), metadata=md(w.token)
        ),
        "org_id",
    ),
    (
        "UpdateBucket",
        lambda c, w, x: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=x, name="n"), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "bucket.id",
    ),
    (
        "DeleteBucket",
        lambda c, w, x: c.buckets.DeleteBucket(
            bucket_pb.DeleteBucketRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "CreateAuthorization.org_id",
        lambda c, w, x: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org_id=x, preset=auth_pb.PRESET_ALL_ACCESS),
            metadata=md(w.token),
        ),
        "org_id",
    ),
    (
        "CreateAuthorization.user_id",
        lambda c, w, x: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, user_id=x, preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
        "user_id",
    ),
    (
        "GetAuthorization",
        lambda c, w, x: c.auths.GetAuthorization(
            auth_pb.GetAuthorizationRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "ListAuthorizations.id",
        lambda c, w, x: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
    (
        "ListAuthorizations.user_id",
        lambda c, w, x: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(user_id=x), metadata=md(w.token)
        ),
        "user_id",
    ),
    (
        "ListAuthorizations.org_id",
        lambda c, w, x: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(org_id=x), metadata=md(w.token)
        ),
        "org_id",
    ),
    (
        "UpdateAuthorization",
        lambda c, w, x: c.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=x, description="d"),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
        "authorization.id",
    ),
    (
        "DeleteAuthorization",
        lambda c, w, x: c.auths.DeleteAuthorization(
            auth_pb.DeleteAuthorizationRequest(id=x), metadata=md(w.token)
        ),
        "id",
    ),
]

# Where an empty id means "not given" (a filter or a choice between id and name)
# rather than a malformed one.
EMPTY_MEANS_ABSENT = {
    "ListBuckets",
    "ListAuthorizations.id",
    "ListAuthorizations.user_id",
    "ListAuthorizations.org_id",
    "CreateAuthorization.user_id",
    "CreateBucket",
    "CreateAuthorization.org_id",
}


@pytest.mark.parametrize(("rpc", "build", "field"), ID_CASES, ids=[c[0] for c in ID_CASES])
def test_malformed_id(client, world, rpc, build, field) -> None:
    for bad in BAD_IDS:
        if bad == "" and rpc in EMPTY_MEANS_ABSENT:
            continue  # "not given" there; see test_missing_required_org
        refused(
            client,
            world,
            lambda bad=bad: build(client, world, bad),
            INVALID,
            "ERROR_REASON_INVALID_ID",
            field,
            what=repr(bad),
        )


def test_huge_id_gives_a_bounded_error(client, world) -> None:
    huge = "f" * 100_000
    err = refused(
        client,
        world,
        lambda: client.users.GetUser(user_pb.GetUserRequest(id=huge), metadata=md(world.token)),
        INVALID,
        "ERROR_REASON_INVALID_ID",
        "id",
    )
    assert huge not in err.details()


@pytest.mark.parametrize("bad", ["abc", "0000000000000000", "0A1B2C3D4E5F6071"])
def test_malformed_id_in_permission(client, world, bad) -> None:
    for resource, field in (
        (types_pb2.Resource(type=BUCKETS, org_id=world.org_id, id=bad), "resource.id"),
        (types_pb2.Resource(type=BUCKETS, org_id=bad), "resource.org_id"),
    ):
        p = types_pb2.Permission(action=READ, resource=resource)
        refused(
            client,
            world,
            lambda p=p: client.auths.CreateAuthorization(
                auth_pb.CreateAuthorizationRequest(org_id=world.org_id, permissions=[p]),
                metadata=md(world.token),
            ),
            INVALID,
            "ERROR_REASON_INVALID_PERMISSION",
            f"permissions[0].{field}",
        )


# -- unknown ids and names ------------------------------------------------------

NOT_FOUND_CASES: list[tuple[str, Callable, str]] = [
    (
        "GetUser",
        lambda c, w: c.users.GetUser(user_pb.GetUserRequest(id=MISSING_ID), metadata=md(w.token)),
        "USER",
    ),
    (
        "UpdateUser",
        lambda c, w: c.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=MISSING_ID, name="n"), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "USER",
    ),
    (
        "DeleteUser",
        lambda c, w: c.users.DeleteUser(
            user_pb.DeleteUserRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "USER",
    ),
    (
        "SetPassword",
        lambda c, w: c.users.SetPassword(
            user_pb.SetPasswordRequest(id=MISSING_ID, new_password="good-password"),
            metadata=md(w.token),
        ),
        "USER",
    ),
    (
        "GetOrganization",
        lambda c, w: c.orgs.GetOrganization(
            org_pb.GetOrganizationRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "UpdateOrganization",
        lambda c, w: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=MISSING_ID, name="n"),
                update_mask=mask("name"),
            ),
            metadata=md(w.token),
        ),
        "ORGANIZATION",
    ),
    (
        "DeleteOrganization",
        lambda c, w: c.orgs.DeleteOrganization(
            org_pb.DeleteOrganizationRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "CreateBucket.org_id",
        lambda c, w: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org_id=MISSING_ID, name="n"), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "CreateBucket.org",
        lambda c, w: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org="nope", name="n"), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "GetBucket",
        lambda c, w: c.buckets.GetBucket(
            bucket_pb.GetBucketRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "BUCKET",
    ),
    (
        "ListBuckets.org_id",
        lambda c, w: c.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(org_id=MISSING_ID), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "ListBuckets.org",
        lambda c, w: c.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(org="nope"), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "UpdateBucket",
        lambda c, w: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=MISSING_ID, name="n"), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "BUCKET",
    ),
    (
        "DeleteBucket",
        lambda c, w: c.buckets.DeleteBucket(
            bucket_pb.DeleteBucketRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "BUCKET",
    ),
    (
        "CreateAuthorization.org",
        lambda c, w: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org="nope", preset=auth_pb.PRESET_ALL_ACCESS),
            metadata=md(w.token),
        ),
        "ORGANIZATION",
    ),
    (
        "CreateAuthorization.org_id",
        lambda c, w: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org_id=MISSING_ID, preset=auth_pb.PRESET_ALL_ACCESS),
            metadata=md(w.token),
        ),
        "ORGANIZATION",
    ),
    (
        "CreateAuthorization.user",
        lambda c, w: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, user="nope", preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
        "USER",
    ),
    (
        "CreateAuthorization.user_id",
        lambda c, w: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, user_id=MISSING_ID, preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
        "USER",
    ),
    (
        "GetAuthorization",
        lambda c, w: c.auths.GetAuthorization(
            auth_pb.GetAuthorizationRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "AUTHORIZATION",
    ),
    (
        "ListAuthorizations.user",
        lambda c, w: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(user="nope"), metadata=md(w.token)
        ),
        "USER",
    ),
    (
        "ListAuthorizations.org",
        lambda c, w: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(org="nope"), metadata=md(w.token)
        ),
        "ORGANIZATION",
    ),
    (
        "UpdateAuthorization",
        lambda c, w: c.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=MISSING_ID, description="d"),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
        "AUTHORIZATION",
    ),
    (
        "DeleteAuthorization",
        lambda c, w: c.auths.DeleteAuthorization(
            auth_pb.DeleteAuthorizationRequest(id=MISSING_ID), metadata=md(w.token)
        ),
        "AUTHORIZATION",
    ),
]


@pytest.mark.parametrize(
    ("rpc", "build", "kind"), NOT_FOUND_CASES, ids=[c[0] for c in NOT_FOUND_CASES]
)
def test_unknown_id_or_name(client, world, rpc, build, kind) -> None:
    refused(
        client, world, lambda: build(client, world), NOT_FOUND, f"ERROR_REASON_{kind}_NOT_FOUND"
    )


def test_name_filters_that_match_nothing_are_empty_lists(client, world) -> None:
    t = md(world.token)
    assert (
        list(client.users.ListUsers(user_pb.ListUsersRequest(name="nope"), metadata=t).users) == []
    )
    r = client.orgs.ListOrganizations(org_pb.ListOrganizationsRequest(name="nope"), metadata=t)
    assert list(r.organizations) == []
    r = client.buckets.ListBuckets(bucket_pb.ListBucketsRequest(name="nope"), metadata=t)
    assert list(r.buckets) == []


def test_missing_required_org(client, world) -> None:
    t = md(world.token)
    refused(
        client,
        world,
        lambda: client.buckets.CreateBucket(bucket_pb.CreateBucketRequest(name="n"), metadata=t),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "org_id",
    )
    refused(
        client,
        world,
        lambda: client.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(preset=auth_pb.PRESET_ALL_ACCESS), metadata=t
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "org_id",
    )


# org_id/org and user_id/user are oneofs: "both given" cannot be sent (the one
# set last wins; tests/e2e/test_authorizations.py::test_org_and_user_are_oneofs).


# -- names and descriptions ----------------------------------------------------

BAD_NAMES = [
    "",
    "   ",
    "n" * 257,
    "\u00fc" * 257,  # characters count, not bytes
    "a\x00b",
    "a\nb",
    "a\tb",
    "a\rb",
    "a\x1bb",
    "a\x7fb",
    "a\u0085b",  # C1 control
]

# (rpc label, builder(client, world, name) -> call, field)
NAME_CASES: list[tuple[str, Callable, str]] = [
    (
        "CreateUser",
        lambda c, w, n: c.users.CreateUser(user_pb.CreateUserRequest(name=n), metadata=md(w.token)),
        "name",
    ),
    (
        "UpdateUser",
        lambda c, w, n: c.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=w.user_id, name=n), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "user.name",
    ),
    (
        "CreateOrganization",
        lambda c, w, n: c.orgs.CreateOrganization(
            org_pb.CreateOrganizationRequest(name=n), metadata=md(w.token)
        ),
        "name",
    ),
    (
        "UpdateOrganization",
        lambda c, w, n: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=w.org_id, name=n), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "organization.name",
    ),
    (
        "CreateBucket",
        lambda c, w, n: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org_id=w.org_id, name=n), metadata=md(w.token)
        ),
        "name",
    ),
    (
        "UpdateBucket",
        lambda c, w, n: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=w.bucket_id, name=n), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
        "bucket.name",
    ),
]


@pytest.mark.parametrize(("rpc", "build", "field"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_bad_name(client, world, rpc, build, field) -> None:
    for bad in BAD_NAMES:
        refused(
            client,
            world,
            lambda bad=bad: build(client, world, bad),
            INVALID,
            "ERROR_REASON_INVALID_ARGUMENT",
            field,
            what=repr(bad[:20]),
        )


@pytest.mark.parametrize(("rpc", "build", "field"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_longest_and_unicode_names_accepted(client, world, rpc, build, field) -> None:
    for name in ("n" * 255 + "!", "\u00fc" * 256, "\u540d\u524d with spaces", "\U0001faa3-emoji"):
        assert _record(build(client, world, name)).name == name


def _record(response):  # the one User/Organization/Bucket/Authorization in a response
    for f in ("user", "organization", "bucket", "authorization"):
        if f in response.DESCRIPTOR.fields_by_name and response.HasField(f):
            return getattr(response, f)
    raise AssertionError(f"no record in {response}")


BAD_DESCRIPTIONS = [
    "d" * 1025,
    "\u00fc" * 1025,
    "a\x00b",
    "a\x1bb",
]

DESCRIPTION_CASES: list[tuple[str, Callable, str]] = [
    (
        "CreateOrganization",
        lambda c, w, d: c.orgs.CreateOrganization(
            org_pb.CreateOrganizationRequest(name="neworg", description=d), metadata=md(w.token)
        ),
        "description",
    ),
    (
        "UpdateOrganization",
        lambda c, w, d: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=w.org_id, description=d),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
        "organization.description",
    ),
    (
        "CreateBucket",
        lambda c, w, d: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org_id=w.org_id, name="newbucket", description=d),
            metadata=md(w.token),
        ),
        "description",
    ),
    (
        "UpdateBucket",
        lambda c, w, d: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=w.bucket_id, description=d),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
        "bucket.description",
    ),
    (
        "CreateAuthorization",
        lambda c, w, d: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, description=d, preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
        "description",
    ),
    (
        "UpdateAuthorization",
        lambda c, w, d: c.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=w.auth_id, description=d),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
        "authorization.description",
    ),
]


@pytest.mark.parametrize(
    ("rpc", "build", "field"), DESCRIPTION_CASES, ids=[c[0] for c in DESCRIPTION_CASES]
)
def test_bad_description(client, world, rpc, build, field) -> None:
    for bad in BAD_DESCRIPTIONS:
        refused(
            client,
            world,
            lambda bad=bad: build(client, world, bad),
            INVALID,
            "ERROR_REASON_INVALID_ARGUMENT",
            field,
            what=repr(bad[:20]),
        )


@pytest.mark.parametrize(
    ("rpc", "build", "field"), DESCRIPTION_CASES, ids=[c[0] for c in DESCRIPTION_CASES]
)
def test_longest_description_accepted(client, world, rpc, build, field) -> None:
    description = "\u00fc" * 1023 + "\t"
    assert _record(build(client, world, description)).description == description


# -- enum numbers ----------------------------------------------------------------


@pytest.mark.parametrize("status", [99, -1, 3])
def test_unknown_status(client, world, status) -> None:
    t = md(world.token)
    refused(
        client,
        world,
        lambda: client.users.CreateUser(
            user_pb.CreateUserRequest(name="newuser", status=status), metadata=t
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "status",
    )
    refused(
        client,
        world,
        lambda: client.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=world.user_id, status=status), update_mask=mask("status")
            ),
            metadata=t,
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "user.status",
    )
    refused(
        client,
        world,
        lambda: client.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=world.auth_id, status=status),
                update_mask=mask("status"),
            ),
            metadata=t,
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "authorization.status",
    )


def test_unspecified_status_named_in_mask(client, world) -> None:
    t = md(world.token)
    refused(
        client,
        world,
        lambda: client.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=world.user_id), update_mask=mask("status")
            ),
            metadata=t,
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "user.status",
    )
    refused(
        client,
        world,
        lambda: client.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=world.auth_id), update_mask=mask("status")
            ),
            metadata=t,
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "authorization.status",
    )


@pytest.mark.parametrize("preset", [99, -1, 3])
def test_unknown_preset(client, world, preset) -> None:
    refused(
        client,
        world,
        lambda: client.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org_id=world.org_id, preset=preset),
            metadata=md(world.token),
        ),
        INVALID,
        "ERROR_REASON_INVALID_ARGUMENT",
        "preset",
    )


@pytest.mark.parametrize(
    ("action", "rtype", "field"),
    [
        (99, BUCKETS, "permissions[0].action"),
        (0, BUCKETS, "permissions[0].action"),
        (READ, 99, "permissions[0].resource.type"),
        (READ, 0, "permissions[0].resource.type"),
        (READ, -5, "permissions[0].resource.type"),
    ],
)
def test_unknown_permission_enums(client, world, action, rtype, field) -> None:
    p = types_pb2.Permission(action=action, resource=types_pb2.Resource(type=rtype))
    refused(
        client,
        world,
        lambda: client.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org_id=world.org_id, permissions=[p]),
            metadata=md(world.token),
        ),
        INVALID,
        "ERROR_REASON_INVALID_PERMISSION",
        field,
    )


# -- paging ------------------------------------------------------------------------

LISTS: dict[str, Callable] = {
    "users": lambda c, w, **kw: c.users.ListUsers(
        user_pb.ListUsersRequest(**kw), metadata=md(w.token)
    ),
    "orgs": lambda c, w, **kw: c.orgs.ListOrganizations(
        org_pb.ListOrganizationsRequest(**kw), metadata=md(w.token)
    ),
    "buckets": lambda c, w, **kw: c.buckets.ListBuckets(
        bucket_pb.ListBucketsRequest(**kw), metadata=md(w.token)
    ),
    "authorizations": lambda c, w, **kw: c.auths.ListAuthorizations(
        auth_pb.ListAuthorizationsRequest(**kw), metadata=md(w.token)
    ),
}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("kind", list(LISTS))
def test_negative_page_size(client, world, kind) -> None:
    for size in (-1, -(2**31)):
        refused(
            client,
            world,
            lambda size=size: LISTS[kind](client, world, page_size=size),
            INVALID,
            "ERROR_REASON_INVALID_PAGE",
            "page_size",
        )


@pytest.mark.parametrize("kind", list(LISTS))
def test_huge_page_size_is_capped_not_refused(client, world, kind) -> None:
    r = LISTS[kind](client, world, page_size=2**31 - 1)
    assert r.next_page_token == ""


@pytest.mark.parametrize("kind", list(LISTS))
def test_garbage_page_token(client, world, kind) -> None:
    for token in (
        "x",
        "!!!",
        "====",
        "ü",
        _b64(f"{kind}:zzzz"),
        _b64(f"{kind}:"),
        _b64(f"{kind}:0000000000000000"),
        _b64(MISSING_ID),
        "a" * 10_000,
    ):
        refused(
            client,
            world,
            lambda token=token: LISTS[kind](client, world, page_token=token),
            INVALID,
            "ERROR_REASON_INVALID_PAGE",
            "page_token",
        )


@pytest.mark.parametrize("source", list(LISTS))
def test_page_token_from_another_list(client, world, source) -> None:
    t = md(world.token)
    # Make every list have a second page.
    client.buckets.CreateBucket(
        bucket_pb.CreateBucketRequest(org_id=world.org_id, name="b2"), metadata=t
    )
    client.auths.CreateAuthorization(
        auth_pb.CreateAuthorizationRequest(org_id=world.org_id, preset=auth_pb.PRESET_ALL_ACCESS),
        metadata=t,
    )
    token = LISTS[source](client, world, page_size=1).next_page_token
    assert token
    # It works for its own list...
    assert LISTS[source](client, world, page_size=1, page_token=token).next_page_token != token
    # ...and nowhere else.
    for kind in LISTS:
        if kind != source:
            refused(
                client,
                world,
                lambda kind=kind: LISTS[kind](client, world, page_token=token),
                INVALID,
                "ERROR_REASON_INVALID_PAGE",
                "page_token",
            )


# -- update masks ----------------------------------------------------------------

MASK_CASES: list[tuple[str, Callable]] = [
    (
        "UpdateUser",
        lambda c, w, m: c.users.UpdateUser(
            user_pb.UpdateUserRequest(user=types_pb2.User(id=w.user_id, name="x"), update_mask=m),
            metadata=md(w.token),
        ),
    ),
    (
        "UpdateOrganization",
        lambda c, w, m: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=w.org_id, name="x"), update_mask=m
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "UpdateBucket",
        lambda c, w, m: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=w.bucket_id, name="x"), update_mask=m
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "UpdateAuthorization",
        lambda c, w, m: c.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=w.auth_id, description="x"), update_mask=m
            ),
            metadata=md(w.token),
        ),
    ),
]


@pytest.mark.parametrize(("rpc", "build"), MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_bad_update_mask(client, world, rpc, build) -> None:
    for paths in (
        ["id"],
        ["create_time"],
        ["nonsense"],
        [""],
        ["permissions"],
        ["org_id"],
        ["user.name"],
    ):
        refused(
            client,
            world,
            lambda paths=paths: build(client, world, mask(*paths)),
            INVALID,
            "ERROR_REASON_INVALID_UPDATE_MASK",
            "update_mask",
        )


# -- never INTERNAL -----------------------------------------------------------------

NASTY = [
    "",
    " ",
    "\x00",
    "\x00" * 16,
    "x" * 70_000,
    "💥",
    "\u202egnp.exe",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%s%n%x",
    "\ufeff",
    "0" * 16,
    "f" * 16,
    "ffffffffffffffff\x00",
    "NULL",
    "orgs/x/buckets",
    "read:buckets",
    "azt_" + "A" * 49,
]

# Every string field of every admin request, one at a time, with the others valid.
FUZZ_CALLS: list[tuple[str, Callable]] = [
    (
        "CreateUser.name",
        lambda c, w, s: c.users.CreateUser(user_pb.CreateUserRequest(name=s), metadata=md(w.token)),
    ),
    (
        "CreateUser.password",
        lambda c, w, s: c.users.CreateUser(
            user_pb.CreateUserRequest(name="fuzz", password=s), metadata=md(w.token)
        ),
    ),
    (
        "GetUser.id",
        lambda c, w, s: c.users.GetUser(user_pb.GetUserRequest(id=s), metadata=md(w.token)),
    ),
    (
        "ListUsers.name",
        lambda c, w, s: c.users.ListUsers(user_pb.ListUsersRequest(name=s), metadata=md(w.token)),
    ),
    (
        "ListUsers.page_token",
        lambda c, w, s: c.users.ListUsers(
            user_pb.ListUsersRequest(page_token=s), metadata=md(w.token)
        ),
    ),
    (
        "UpdateUser.name",
        lambda c, w, s: c.users.UpdateUser(
            user_pb.UpdateUserRequest(user=types_pb2.User(id=w.user_id, name=s)),
            metadata=md(w.token),
        ),
    ),
    (
        "UpdateUser.mask",
        lambda c, w, s: c.users.UpdateUser(
            user_pb.UpdateUserRequest(
                user=types_pb2.User(id=w.user_id, name="x"), update_mask=mask(s)
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "SetPassword.new",
        lambda c, w, s: c.users.SetPassword(
            user_pb.SetPasswordRequest(id=w.user_id, new_password=s), metadata=md(w.token)
        ),
    ),
    (
        "SetPassword.old",
        lambda c, w, s: c.users.SetPassword(
            user_pb.SetPasswordRequest(id=w.user_id, old_password=s, new_password="p" * 8),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateOrganization.name",
        lambda c, w, s: c.orgs.CreateOrganization(
            org_pb.CreateOrganizationRequest(name=s), metadata=md(w.token)
        ),
    ),
    (
        "CreateOrganization.description",
        lambda c, w, s: c.orgs.CreateOrganization(
            org_pb.CreateOrganizationRequest(name="fuzz-org", description=s), metadata=md(w.token)
        ),
    ),
    (
        "ListOrganizations.name",
        lambda c, w, s: c.orgs.ListOrganizations(
            org_pb.ListOrganizationsRequest(name=s), metadata=md(w.token)
        ),
    ),
    (
        "UpdateOrganization.description",
        lambda c, w, s: c.orgs.UpdateOrganization(
            org_pb.UpdateOrganizationRequest(
                organization=types_pb2.Organization(id=w.org_id, description=s),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateBucket.org",
        lambda c, w, s: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org=s, name="fuzz"), metadata=md(w.token)
        ),
    ),
    (
        "CreateBucket.name",
        lambda c, w, s: c.buckets.CreateBucket(
            bucket_pb.CreateBucketRequest(org_id=w.org_id, name=s), metadata=md(w.token)
        ),
    ),
    (
        "ListBuckets.org",
        lambda c, w, s: c.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(org=s), metadata=md(w.token)
        ),
    ),
    (
        "ListBuckets.name",
        lambda c, w, s: c.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(name=s), metadata=md(w.token)
        ),
    ),
    (
        "UpdateBucket.name",
        lambda c, w, s: c.buckets.UpdateBucket(
            bucket_pb.UpdateBucketRequest(
                bucket=types_pb2.Bucket(id=w.bucket_id, name=s), update_mask=mask("name")
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateAuthorization.org",
        lambda c, w, s: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(org=s, preset=auth_pb.PRESET_ALL_ACCESS),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateAuthorization.user",
        lambda c, w, s: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, user=s, preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateAuthorization.description",
        lambda c, w, s: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, description=s, preset=auth_pb.PRESET_ALL_ACCESS
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "CreateAuthorization.perm_id",
        lambda c, w, s: c.auths.CreateAuthorization(
            auth_pb.CreateAuthorizationRequest(
                org_id=w.org_id, permissions=[perm(READ, BUCKETS, w.org_id, s)]
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "ListAuthorizations.user",
        lambda c, w, s: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(user=s), metadata=md(w.token)
        ),
    ),
    (
        "ListAuthorizations.page_token",
        lambda c, w, s: c.auths.ListAuthorizations(
            auth_pb.ListAuthorizationsRequest(page_token=s), metadata=md(w.token)
        ),
    ),
    (
        "UpdateAuthorization.description",
        lambda c, w, s: c.auths.UpdateAuthorization(
            auth_pb.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(id=w.auth_id, description=s),
                update_mask=mask("description"),
            ),
            metadata=md(w.token),
        ),
    ),
    (
        "SignIn.username",
        lambda c, w, s: c.sessions.SignIn(
            session_pb.SignInRequest(username=s, password="whatever-pw")
        ),
    ),
    (
        "SignIn.password",
        lambda c, w, s: c.sessions.SignIn(session_pb.SignInRequest(username="bob", password=s)),
    ),
]

EXPECTED_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}


@pytest.mark.parametrize(("label", "build"), FUZZ_CALLS, ids=[c[0] for c in FUZZ_CALLS])
def test_nasty_strings_never_internal(client, world, label, build) -> None:
    for s in NASTY:
        before = world.snapshot()
        try:
            build(client, world, s)
        except grpc.RpcError as err:
            assert err.code() in EXPECTED_CODES, (label, s[:40], err.code(), err.details())
            info = error_info(err)
            assert info.domain == "authzd" and info.reason.startswith("ERROR_REASON_")
            assert info.reason not in ("ERROR_REASON_INTERNAL", "ERROR_REASON_UNSPECIFIED")
            assert len(err.details()) < 400
            assert world.snapshot() == before, (label, s[:40])


def test_admin_rpcs_without_credentials(client, world) -> None:
    for label, build in FUZZ_CALLS:
        if label.startswith("SignIn"):
            continue
        before = world.snapshot()
        w = World("", world.user_id, world.org_id, world.bucket_id, world.auth_id, world.snapshot)
        with pytest.raises(grpc.RpcError) as exc:
            build(client, w, "valid-name")
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED, label
        assert exc.value.details() == "unauthorized access"
        assert world.snapshot() == before
