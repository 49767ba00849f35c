"""BucketService end to end (SPEC §1, §3, §4): write:orgs/O/buckets[/id] and
read:..., names unique per org, org isolation, Read/Write bucket tokens."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import types_pb2
from google.protobuf import field_mask_pb2

from tests.conftest import error_info, md
from tests.helpers import assert_error, create_org, fails, mint, perm, same_not_found

READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS


# -- helpers ---------------------------------------------------------------


def create_bucket(
    client, token: str, name: str, *, org_id: str = "", org: str = "", description: str = ""
) -> types_pb2.Bucket:
    return client.buckets.CreateBucket(
        bucket_pb.CreateBucketRequest(
            name=name, description=description, **({"org": org} if org else {"org_id": org_id})
        ),
        metadata=md(token),
    ).bucket


def get_bucket(client, token: str, bucket_id: str) -> types_pb2.Bucket:
    return client.buckets.GetBucket(
        bucket_pb.GetBucketRequest(id=bucket_id), metadata=md(token)
    ).bucket


def update_bucket(client, token: str, bucket: types_pb2.Bucket, paths: list[str]):
    return client.buckets.UpdateBucket(
        bucket_pb.UpdateBucketRequest(
            bucket=bucket, update_mask=field_mask_pb2.FieldMask(paths=paths)
        ),
        metadata=md(token),
    ).bucket


def delete_bucket(client, token: str, bucket_id: str) -> None:
    client.buckets.DeleteBucket(bucket_pb.DeleteBucketRequest(id=bucket_id), metadata=md(token))


def list_all_buckets(
    client, token: str, *, org_id: str = "", org: str = "", page_size: int = 0
) -> list:
    out, page_token = [], ""
    for _ in range(100):
        r = client.buckets.ListBuckets(
            bucket_pb.ListBucketsRequest(
                page_size=page_size,
                page_token=page_token,
                **({"org": org} if org else {"org_id": org_id} if org_id else {}),
            ),
            metadata=md(token),
        )
        if page_size:
            assert len(r.buckets) <= page_size
        out.extend(r.buckets)
        if not r.next_page_token:
            return out
        page_token = r.next_page_token
    raise AssertionError("pagination does not end")


@pytest.fixture
def two_orgs(client, admin):
    """acme (from setup) with its bucket, and globex with one bucket; an All-Access
    token for acme."""
    globex = create_org(client, admin.token, "globex")
    foreign = create_bucket(client, admin.token, "foreign", org_id=globex.id)
    token, _ = mint(client, admin.token, admin.org_id, preset=auth_pb.PRESET_ALL_ACCESS)
    return globex, foreign, token


# -- CRUD ------------------------------------------------------------------


def test_create_bucket_by_org_id_and_by_org_name(client, admin, clock) -> None:
    by_id = create_bucket(
        client, admin.token, "metrics", org_id=admin.org_id, description="all the metrics"
    )
    assert len(by_id.id) == 16 and by_id.id != admin.bucket_id
    assert (by_id.org_id, by_id.org, by_id.name, by_id.description) == (
        admin.org_id,
        "acme",
        "metrics",
        "all the metrics",
    )
    assert by_id.create_time.seconds == int(clock.time())

    by_name = create_bucket(client, admin.token, "logs", org="acme")
    assert (by_name.org_id, by_name.org, by_name.name) == (admin.org_id, "acme", "logs")

    assert get_bucket(client, admin.token, by_id.id) == by_id
    assert get_bucket(client, admin.token, by_name.id) == by_name
    names = sorted(b.name for b in list_all_buckets(client, admin.token, org="acme"))
    assert names == ["logs", "metrics", "telemetry"]
    ids = sorted(b.id for b in list_all_buckets(client, admin.token, org_id=admin.org_id))
    assert ids == sorted([admin.bucket_id, by_id.id, by_name.id])


def test_bucket_names_unique_per_org(client, admin, running) -> None:
    globex = create_org(client, admin.token, "globex")
    before = running.snapshot()
    for kwargs in ({"org_id": admin.org_id}, {"org": "acme"}):
        with pytest.raises(grpc.RpcError) as exc:
            create_bucket(client, admin.token, "telemetry", **kwargs)
        assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_BUCKET_ALREADY_EXISTS")
    assert running.snapshot() == before

    # The same name in another org is a different bucket.
    other = create_bucket(client, admin.token, "telemetry", org_id=globex.id)
    assert other.org_id == globex.id and other.id != admin.bucket_id

    # Renaming onto a taken name in the same org is refused too.
    logs = create_bucket(client, admin.token, "logs", org_id=admin.org_id)
    with pytest.raises(grpc.RpcError) as exc:
        update_bucket(client, admin.token, types_pb2.Bucket(id=logs.id, name="telemetry"), ["name"])
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_BUCKET_ALREADY_EXISTS")
    assert get_bucket(client, admin.token, logs.id).name == "logs"
    # ...but onto a name used only in the other org is fine.
    r = update_bucket(client, admin.token, types_pb2.Bucket(id=other.id, name="logs"), ["name"])
    assert (r.name, r.org_id) == ("logs", globex.id)


def test_update_bucket(client, admin, clock) -> None:
    b = create_bucket(client, admin.token, "metrics", org_id=admin.org_id, description="v1")
    clock.advance(30)
    r = update_bucket(
        client,
        admin.token,
        types_pb2.Bucket(id=b.id, name="ignored", description="v2"),
        ["description"],
    )
    assert (r.name, r.description, r.org_id, r.org) == ("metrics", "v2", admin.org_id, "acme")
    assert r.update_time.seconds == b.update_time.seconds + 30
    assert r.create_time == b.create_time
    r = update_bucket(client, admin.token, types_pb2.Bucket(id=b.id, name="metrics-2"), [])
    assert (r.name, r.description) == ("metrics-2", "v2")
    assert get_bucket(client, admin.token, b.id) == r
    # org_id is not updatable: a bucket does not move between orgs
    globex = create_org(client, admin.token, "globex")
    with pytest.raises(grpc.RpcError) as exc:
        update_bucket(client, admin.token, types_pb2.Bucket(id=b.id, org_id=globex.id), ["org_id"])
    assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_UPDATE_MASK")
    assert get_bucket(client, admin.token, b.id).org_id == admin.org_id


def test_delete_bucket(client, admin, running) -> None:
    b = create_bucket(client, admin.token, "metrics", org_id=admin.org_id)
    rev, counts = running.snapshot()
    delete_bucket(client, admin.token, b.id)
    assert running.snapshot() == (rev + 1, {**counts, "buckets": counts["buckets"] - 1})
    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, admin.token, b.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        delete_bucket(client, admin.token, b.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    assert [x.id for x in list_all_buckets(client, admin.token)] == [admin.bucket_id]


def test_list_buckets_pagination(client, admin) -> None:
    globex = create_org(client, admin.token, "globex")
    acme_ids = [admin.bucket_id] + [
        create_bucket(client, admin.token, f"a{i}", org_id=admin.org_id).id for i in range(4)
    ]
    globex_ids = [
        create_bucket(client, admin.token, f"g{i}", org_id=globex.id).id for i in range(3)
    ]
    for size in (0, 1, 2, 3, 8, 1000):
        assert [b.id for b in list_all_buckets(client, admin.token, page_size=size)] == sorted(
            acme_ids + globex_ids
        )
        assert [
            b.id for b in list_all_buckets(client, admin.token, org_id=globex.id, page_size=size)
        ] == sorted(globex_ids)
    r = client.buckets.ListBuckets(
        bucket_pb.ListBucketsRequest(org="globex", name="g1"), metadata=md(admin.token)
    )
    assert [b.name for b in r.buckets] == ["g1"]


# -- isolation between orgs ---------------------------------------------------


def test_all_access_token_works_on_its_own_org(client, admin, two_orgs) -> None:
    _, _, token = two_orgs
    b = create_bucket(client, token, "mine", org_id=admin.org_id)
    assert get_bucket(client, token, b.id).name == "mine"
    r = update_bucket(client, token, types_pb2.Bucket(id=b.id, description="d"), ["description"])
    assert r.description == "d"
    delete_bucket(client, token, b.id)
    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, admin.token, b.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")


def test_all_access_token_cannot_touch_another_orgs_buckets(
    client, admin, running, two_orgs
) -> None:
    globex, foreign, token = two_orgs
    before = running.snapshot()

    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, token, foreign.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    assert error_info(exc.value).metadata["id"] == foreign.id

    assert [b.id for b in list_all_buckets(client, token)] == [admin.bucket_id]
    assert [b.id for b in list_all_buckets(client, token, page_size=1)] == [admin.bucket_id]
    # globex is invisible to this token: its filters answer as for a missing org.
    for kwargs in ({"org_id": globex.id}, {"org": "globex"}):
        with pytest.raises(grpc.RpcError) as exc:
            list_all_buckets(client, token, **kwargs)
        assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")

    for field, key, missing_key in (("org_id", globex.id, "0f0f0f0f0f0f0f0f"),
                                    ("org", "globex", "nosuch")):
        invisible = fails(create_bucket, client, token, "planted", **{field: key})
        assert_error(invisible, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_ORGANIZATION_NOT_FOUND")
        missing = fails(create_bucket, client, token, "planted", **{field: missing_key})
        same_not_found(invisible, missing, key, missing_key)

    with pytest.raises(grpc.RpcError) as exc:
        update_bucket(client, token, types_pb2.Bucket(id=foreign.id, name="renamed"), ["name"])
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        delete_bucket(client, token, foreign.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")

    assert running.snapshot() == before
    assert get_bucket(client, admin.token, foreign.id) == foreign


# -- Read/Write bucket tokens ---------------------------------------------------


def test_read_write_bucket_token(client, admin, running) -> None:
    other = create_bucket(client, admin.token, "other", org_id=admin.org_id)
    b = admin.bucket_id
    token, _ = mint(
        client,
        admin.token,
        admin.org_id,
        perms=[
            perm(READ, BUCKETS, admin.org_id, b),
            perm(WRITE, BUCKETS, admin.org_id, b),
        ],
    )

    assert get_bucket(client, token, b).name == "telemetry"
    assert [x.id for x in list_all_buckets(client, token)] == [b]
    assert [x.id for x in list_all_buckets(client, token, org_id=admin.org_id)] == [b]
    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, token, other.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")

    r = update_bucket(client, token, types_pb2.Bucket(id=b, description="rw"), ["description"])
    assert r.description == "rw"

    before = running.snapshot()
    # A write grant on one bucket does not allow creating buckets in the org.
    with pytest.raises(grpc.RpcError) as exc:
        create_bucket(client, token, "new", org_id=admin.org_id)
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:orgs/{admin.org_id}/buckets"
    with pytest.raises(grpc.RpcError) as exc:
        delete_bucket(client, token, other.id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    assert running.snapshot() == before


def test_read_only_bucket_token_cannot_write(client, admin, running) -> None:
    b = admin.bucket_id
    token, _ = mint(client, admin.token, admin.org_id, perms=[perm(READ, BUCKETS, admin.org_id, b)])
    assert get_bucket(client, token, b).id == b
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        update_bucket(client, token, types_pb2.Bucket(id=b, name="x"), ["name"])
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:orgs/{admin.org_id}/buckets/{b}"
    with pytest.raises(grpc.RpcError) as exc:
        delete_bucket(client, token, b)
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert running.snapshot() == before


def test_write_only_bucket_token_cannot_see_the_bucket(client, admin) -> None:
    # Write does not imply read: without read the bucket is invisible.
    b = admin.bucket_id
    token, _ = mint(
        client, admin.token, admin.org_id, perms=[perm(WRITE, BUCKETS, admin.org_id, b)]
    )
    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, token, b)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
    assert list_all_buckets(client, token) == []


def test_org_wide_bucket_grant(client, admin, two_orgs) -> None:
    globex, foreign, _ = two_orgs
    token, _ = mint(client, admin.token, globex.id, perms=[perm(READ, BUCKETS, globex.id)])
    assert get_bucket(client, token, foreign.id).name == "foreign"
    assert [b.id for b in list_all_buckets(client, token)] == [foreign.id]
    with pytest.raises(grpc.RpcError) as exc:
        get_bucket(client, token, admin.bucket_id)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_BUCKET_NOT_FOUND")
