"""Bulk reads and writes: warming the decision index at start, and loading
benchmark fixtures without going through 100,000 RPCs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from service.domain.models import Authorization, Bucket, Organization, Status, User
from service.domain.presets import holds_instance_write

from .database import Store, TokenRecord, encode_permissions, to_micros
from .models import AuthorizationRow, BucketRow, OrganizationRow, UserRow

CHUNK = 500


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def bulk_load(
    store: Store,
    orgs: Iterable[Organization],
    users: Iterable[User],
    buckets: Iterable[Bucket],
    authorizations: Iterable[tuple[Authorization, str]],
) -> None:
    """Insert many records in one write transaction. Each authorization comes with
    its token digest."""
    org_rows = [
        dict(
            id=o.id,
            name=o.name,
            description=o.description,
            create_time=to_micros(o.create_time),
            update_time=to_micros(o.update_time),
        )
        for o in orgs
    ]
    user_rows = [
        dict(
            id=u.id,
            name=u.name,
            status=int(u.status),
            password_hash=None,
            create_time=to_micros(u.create_time),
            update_time=to_micros(u.update_time),
        )
        for u in users
    ]
    bucket_rows = [
        dict(
            id=b.id,
            org=b.org_id,
            name=b.name,
            description=b.description,
            create_time=to_micros(b.create_time),
            update_time=to_micros(b.update_time),
        )
        for b in buckets
    ]
    auth_rows = [
        dict(
            id=a.id,
            org=a.org_id,
            user=a.user_id,
            description=a.description,
            status=int(a.status),
            permissions=encode_permissions(a.permissions),
            instance_writer=holds_instance_write(list(a.permissions)),
            token_digest=digest,
            token_hint=a.token_hint,
            create_time=to_micros(a.create_time),
            update_time=to_micros(a.update_time),
            expire_time=to_micros(a.expire_time) if a.expire_time else None,
        )
        for a, digest in authorizations
    ]
    with store.write():
        for model, rows in (
            (OrganizationRow, org_rows),
            (UserRow, user_rows),
            (BucketRow, bucket_rows),
            (AuthorizationRow, auth_rows),
        ):
            for chunk in _chunks(rows):
                model.insert_many(chunk).execute()


def token_records(store: Store, limit: int) -> Iterator[tuple[str, TokenRecord]]:
    """(digest, record) of up to `limit` API tokens, newest first: what the
    decision index preloads at start."""
    q = (
        AuthorizationRow.select(
            AuthorizationRow.token_digest,
            AuthorizationRow.id,
            AuthorizationRow.user,
            AuthorizationRow.org,
            AuthorizationRow.status,
            AuthorizationRow.expire_time,
            AuthorizationRow.permissions,
            UserRow.status.alias("user_status"),
        )
        .join(UserRow, on=(AuthorizationRow.user == UserRow.id))
        .order_by(AuthorizationRow.create_time.desc())
        .limit(limit)
        .tuples()
    )
    for digest, auth_id, user_id, org_id, status, expire, perms, user_status in q.iterator():
        yield (
            digest,
            TokenRecord(
                auth_id, user_id, org_id, Status(status), expire, perms, Status(user_status)
            ),
        )
