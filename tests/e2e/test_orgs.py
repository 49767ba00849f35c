"""OrganizationService end to end (SPEC §1, §4): create needs global write:orgs,
an All-Access token only reads its own org, delete cascades, the last Operator."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import organization_service_pb2 as org_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb
from google.protobuf import field_mask_pb2

from tests.conftest import error_info, md
from tests.helpers import assert_error, check, create_bucket, create_user, mint, perm

READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
BUCKETS, ORGS = types_pb2.RESOURCE_TYPE_BUCKETS, types_pb2.RESOURCE_TYPE_ORGS
ALLOWED = access_pb.DECISION_REASON_ALLOWED
TOKEN_UNKNOWN = access_pb.DECISION_REASON_TOKEN_UNKNOWN


# -- helpers ---------------------------------------------------------------


def create_org(client, token: str, name: str, description: str = "") -> types_pb2.Organization:
    return client.orgs.CreateOrganization(
        org_pb.CreateOrganizationRequest(name=name, description=description), metadata=md(token)
    ).organization


def get_org(client, token: str, org_id: str) -> types_pb2.Organization:
    return client.orgs.GetOrganization(
        org_pb.GetOrganizationRequest(id=org_id), metadata=md(token)
    ).organization


def update_org(client, token: str, org: types_pb2.Organization, paths: list[str]):
    return client.orgs.UpdateOrganization(
        org_pb.UpdateOrganizationRequest(
            organization=org, update_mask=field_mask_pb2.FieldMask(paths=paths)
        ),
        metadata=md(token),
    ).organization


def delete_org(client, token: str, org_id: str) -> None:
    client.orgs.DeleteOrganization(org_pb.DeleteOrganizationRequest(id=org_id), metadata=md(token))


def list_all_orgs(client, token: str, page_size: int = 0) -> list:
    out, page_token = [], ""
    for _ in range(100):
        r = client.orgs.ListOrganizations(
            org_pb.ListOrganizationsRequest(page_size=page_size, page_token=page_token),
            metadata=md(token),
        )
        if page_size:
            assert len(r.organizations) <= page_size
        out.extend(r.organizations)
        if not r.next_page_token:
            return out
        page_token = r.next_page_token
    raise AssertionError("pagination does not end")


def all_access(client, admin, org_id: str) -> str:
    token, _ = mint(client, admin.token, org_id, admin.user_id, preset=auth_pb.PRESET_ALL_ACCESS)
    return token


# -- create / get / list -----------------------------------------------------


def test_operator_creates_org(client, admin, clock) -> None:
    org = create_org(client, admin.token, "globex", "Globex Corp.")
    assert len(org.id) == 16 and org.id not in (admin.org_id, "0" * 16)
    assert (org.name, org.description) == ("globex", "Globex Corp.")
    assert org.create_time.seconds == int(clock.time()) == org.update_time.seconds
    assert get_org(client, admin.token, org.id) == org
    names = sorted(o.name for o in list_all_orgs(client, admin.token))
    assert names == ["acme", "globex"]


def test_duplicate_org_name(client, admin, running) -> None:
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        create_org(client, admin.token, "acme", "again")
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_ORGANIZATION_ALREADY_EXISTS")
    assert running.snapshot() == before


def test_create_org_needs_global_write_orgs(client, admin, running) -> None:
    token = all_access(client, admin, admin.org_id)
    # Even write on the one org is not enough to create another.
    writer, _ = mint(client, admin.token, admin.org_id, perms=[perm(WRITE, ORGS, id=admin.org_id)])
    before = running.snapshot()
    for t in (token, writer):
        with pytest.raises(grpc.RpcError) as exc:
            create_org(client, t, "rogue")
        assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
        assert error_info(exc.value).metadata["permission"] == "write:orgs"
    assert running.snapshot() == before


def test_all_access_token_reads_only_its_org(client, admin, running) -> None:
    other = create_org(client, admin.token, "globex")
    token = all_access(client, admin, admin.org_id)

    assert get_org(client, token, admin.org_id).name == "acme"
    with pytest.raises(grpc.RpcError) as exc:
        get_org(client, token, other.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        get_org(client, token, "0123456789abcdef")  # missing looks the same
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")

    assert [o.id for o in list_all_orgs(client, token)] == [admin.org_id]
    assert [o.id for o in list_all_orgs(client, token, page_size=1)] == [admin.org_id]

    before = running.snapshot()
    # All-Access holds only read:orgs/A: visible but not writable.
    with pytest.raises(grpc.RpcError) as exc:
        update_org(client, token, types_pb2.Organization(id=admin.org_id, name="mine"), ["name"])
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:orgs/{admin.org_id}"
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, token, admin.org_id)
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:orgs/{admin.org_id}"
    # and org B is not even visible
    with pytest.raises(grpc.RpcError) as exc:
        update_org(client, token, types_pb2.Organization(id=other.id, name="mine"), ["name"])
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, token, other.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
    assert running.snapshot() == before
    assert get_org(client, admin.token, admin.org_id).name == "acme"
    assert get_org(client, admin.token, other.id).name == "globex"


def test_org_wide_grant_does_not_read_the_org_itself(client, admin) -> None:
    # SPEC §2: {orgs, org_id: O} does not match reading org O ({orgs, id: O}).
    token, _ = mint(
        client, admin.token, admin.org_id, perms=[perm(READ, ORGS, org_id=admin.org_id)]
    )
    with pytest.raises(grpc.RpcError) as exc:
        get_org(client, token, admin.org_id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
    assert list_all_orgs(client, token) == []


def test_explicit_write_org_permission_allows_update_and_delete(client, admin) -> None:
    other = create_org(client, admin.token, "globex")
    token, _ = mint(
        client,
        admin.token,
        admin.org_id,
        perms=[
            perm(READ, ORGS, id=other.id),
            perm(WRITE, ORGS, id=other.id),
        ],
    )
    r = update_org(client, token, types_pb2.Organization(id=other.id, name="initech"), ["name"])
    assert r.name == "initech"
    delete_org(client, token, other.id)
    with pytest.raises(grpc.RpcError) as exc:
        get_org(client, admin.token, other.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")


def test_list_orgs_pagination_and_name_filter(client, admin) -> None:
    ids = [create_org(client, admin.token, f"org-{i}").id for i in range(5)]
    everyone = sorted([admin.org_id, *ids])
    for size in (0, 1, 2, 4, 6, 1000):
        assert [o.id for o in list_all_orgs(client, admin.token, page_size=size)] == everyone
    r = client.orgs.ListOrganizations(
        org_pb.ListOrganizationsRequest(name="org-3"), metadata=md(admin.token)
    )
    assert [o.name for o in r.organizations] == ["org-3"]


# -- update ------------------------------------------------------------------


def test_update_org(client, admin, clock) -> None:
    org = create_org(client, admin.token, "globex", "first")
    clock.advance(60)
    r = update_org(
        client,
        admin.token,
        types_pb2.Organization(id=org.id, name="ignored", description="second"),
        ["description"],
    )
    assert (r.name, r.description) == ("globex", "second")
    assert r.update_time.seconds == org.update_time.seconds + 60
    assert r.create_time == org.create_time

    r = update_org(client, admin.token, types_pb2.Organization(id=org.id, name="initech"), ["name"])
    assert (r.name, r.description) == ("initech", "second")
    # clearing the description through the mask
    r = update_org(client, admin.token, types_pb2.Organization(id=org.id), ["description"])
    assert (r.name, r.description) == ("initech", "")
    assert get_org(client, admin.token, org.id) == r
    # rename to a taken name
    with pytest.raises(grpc.RpcError) as exc:
        update_org(client, admin.token, types_pb2.Organization(id=org.id, name="acme"), ["name"])
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_ORGANIZATION_ALREADY_EXISTS")
    assert get_org(client, admin.token, org.id).name == "initech"


def test_update_org_bad_mask(client, admin) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        update_org(client, admin.token, types_pb2.Organization(id=admin.org_id, name="x"), ["id"])
    assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_UPDATE_MASK")
    with pytest.raises(grpc.RpcError) as exc:
        update_org(client, admin.token, types_pb2.Organization(id=admin.org_id), [])
    assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_UPDATE_MASK")
    assert get_org(client, admin.token, admin.org_id).name == "acme"


# -- delete ------------------------------------------------------------------


def test_delete_org_removes_buckets_and_tokens(client, admin, running) -> None:
    globex = create_org(client, admin.token, "globex")
    b1 = create_bucket(client, admin.token, globex.id, "b1")
    b2 = create_bucket(client, admin.token, globex.id, "b2")
    bob = create_user(client, admin.token, "bob")
    t_all, a_all = mint(client, admin.token, globex.id, bob.id, preset=auth_pb.PRESET_ALL_ACCESS)
    read_b1 = perm(READ, BUCKETS, globex.id, b1.id)
    t_b1, a_b1 = mint(client, admin.token, globex.id, bob.id, perms=[read_b1])
    # bob's token in acme must survive
    read_acme = perm(READ, BUCKETS, admin.org_id, admin.bucket_id)
    t_acme, _ = mint(client, admin.token, admin.org_id, bob.id, perms=[read_acme])

    assert check(client, t_all, perm(READ, BUCKETS, globex.id, b2.id)).reason == ALLOWED
    assert check(client, t_b1, read_b1).reason == ALLOWED

    rev, counts = running.snapshot()
    delete_org(client, admin.token, globex.id)
    rev_after, counts_after = running.snapshot()
    assert rev_after == rev + 1  # one transaction
    assert counts_after == {
        **counts,
        "organizations": counts["organizations"] - 1,
        "buckets": counts["buckets"] - 2,
        "authorizations": counts["authorizations"] - 2,
    }

    # The tokens stop working at once, for checks and as callers.
    assert check(client, t_all, perm(READ, BUCKETS, globex.id, b2.id)).reason == TOKEN_UNKNOWN
    assert check(client, t_b1, read_b1).reason == TOKEN_UNKNOWN
    with pytest.raises(grpc.RpcError) as exc:
        list_all_orgs(client, t_all)
    assert_error(exc, grpc.StatusCode.UNAUTHENTICATED, "ERROR_REASON_UNAUTHENTICATED")

    for bucket_id in (b1.id, b2.id):
        with pytest.raises(grpc.RpcError) as exc:
            client.buckets.GetBucket(
                bucket_pb.GetBucketRequest(id=bucket_id), metadata=md(admin.token)
            )
        assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    for auth_id in (a_all, a_b1):
        with pytest.raises(grpc.RpcError) as exc:
            client.auths.GetAuthorization(
                auth_pb.GetAuthorizationRequest(id=auth_id), metadata=md(admin.token)
            )
        assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_AUTHORIZATION_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        get_org(client, admin.token, globex.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, admin.token, globex.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")

    # Users are not part of an org; bob and his acme token live on.
    got = client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(admin.token))
    assert got.user.name == "bob"
    assert check(client, t_acme, read_acme).reason == ALLOWED
    # The name is free again, and the new org starts empty.
    again = create_org(client, admin.token, "globex")
    r = client.buckets.ListBuckets(
        bucket_pb.ListBucketsRequest(org_id=again.id), metadata=md(admin.token)
    )
    assert list(r.buckets) == []


def test_cannot_delete_org_holding_last_operator_token(client, admin, running) -> None:
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, admin.token, admin.org_id)
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")
    assert running.snapshot() == before
    assert get_org(client, admin.token, admin.org_id).name == "acme"

    # Another Operator token in the same org does not help.
    mint(client, admin.token, admin.org_id, preset=auth_pb.PRESET_OPERATOR)
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, admin.token, admin.org_id)
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")

    # One in another org does.
    globex = create_org(client, admin.token, "globex")
    new_op, _ = mint(client, admin.token, globex.id, preset=auth_pb.PRESET_OPERATOR)
    delete_org(client, new_op, admin.org_id)
    instance = perm(WRITE, types_pb2.RESOURCE_TYPE_INSTANCE)
    assert check(client, admin.token, instance).reason == TOKEN_UNKNOWN
    assert check(client, new_op, instance).reason == ALLOWED
    with pytest.raises(grpc.RpcError) as exc:
        delete_org(client, new_op, globex.id)
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")
