"""Bulk reads and writes: warming the decision index at start, and loading
benchmark fixtures without going through 100,000 RPCs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from service.domain.models import Authorization, Bucket, Organization, User

from .authorizations import TOKEN_COLUMNS, authorization_row, token_record
from .buckets import bucket_row
from .codec import TokenRecord
from .database import Store
from .models import AuthorizationRow, BucketRow, OrganizationRow, UserRow
from .orgs import org_row
from .users import user_row

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
    org_rows = [org_row(o) for o in orgs]
    user_rows = [user_row(u, None) for u in users]
    bucket_rows = [bucket_row(b) for b in buckets]
    auth_rows = [authorization_row(a, digest) for a, digest in authorizations]
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
    decision index preloads at start. Read in one snapshot; a driver error while
    iterating is StoreUnavailable, as from every Store method."""
    q = (
        AuthorizationRow.select(AuthorizationRow.token_digest, *TOKEN_COLUMNS)
        .join(UserRow, on=(AuthorizationRow.user == UserRow.id))
        .order_by(AuthorizationRow.create_time.desc())
        .limit(limit)
        .tuples()
    )
    with store.read():
        for digest, *row in q.iterator():
            yield digest, token_record(tuple(row))
