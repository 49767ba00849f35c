"""Authorization (API token) queries, and what the decision index reads."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from peewee import JOIN, Case

from service.domain.models import Authorization, Status
from service.domain.permissions import Permission, ResourceType
from service.domain.presets import holds_instance_write

from .codec import (
    InstanceWriter,
    Page,
    TokenRecord,
    decode_permissions,
    encode_permissions,
    from_micros,
    micros_to_seconds,
    seconds_to_micros,
    time_columns,
    to_datetime,
    to_micros,
    user_status,
)
from .engine import Engine
from .models import AuthorizationRow, BucketRow, OrganizationRow, Revision, UserRow


def _query() -> Any:
    return (
        AuthorizationRow.select(
            AuthorizationRow,
            OrganizationRow.name.alias("org_name"),
            UserRow.name.alias("user_name"),
        )
        .join(OrganizationRow, on=(AuthorizationRow.org == OrganizationRow.id))
        .switch(AuthorizationRow)
        .join(UserRow, on=(AuthorizationRow.user == UserRow.id))
    )


def _auth(row: Any) -> Authorization:
    return Authorization(
        id=row.id,
        org_id=row.org_id,
        org_name=row.org_name,
        user_id=row.user_id,
        user_name=row.user_name,
        description=row.description,
        status=Status(row.status),
        permissions=decode_permissions(row.permissions),
        token_hint=row.token_hint,
        create_time=to_datetime(row.create_time),
        update_time=to_datetime(row.update_time),
        expire_time=from_micros(row.expire_time),
        last_used_time=from_micros(row.last_used_time),
    )


def _with_bucket_names(auths: list[Authorization]) -> list[Authorization]:
    """The names of the buckets the authorizations' permissions name, in one
    query for the lot (Resource.name on output)."""
    ids = {
        p.id for a in auths for p in a.permissions if p.type is ResourceType.BUCKETS and p.id
    }
    if not ids:
        return auths
    rows: Any = BucketRow.select(BucketRow.id, BucketRow.name).where(BucketRow.id.in_(ids))
    names: dict[str, str] = dict(rows.tuples())
    return [
        dataclasses.replace(
            a,
            bucket_names=tuple(
                (p.id, names[p.id])
                for p in a.permissions
                if p.type is ResourceType.BUCKETS and p.id in names
            ),
        )
        for a in auths
    ]


def authorization_row(auth: Authorization, token_digest: str) -> dict[str, Any]:
    """The row of a new authorization. Whether it holds write:instance (the
    last-Operator guard's index) is derived here from its permissions, once."""
    return dict(
        id=auth.id,
        org=auth.org_id,
        user=auth.user_id,
        description=auth.description,
        status=int(auth.status),
        permissions=encode_permissions(auth.permissions),
        instance_writer=holds_instance_write(auth.permissions),
        token_digest=token_digest,
        token_hint=auth.token_hint,
        **time_columns(auth),
        expire_time=to_micros(auth.expire_time) if auth.expire_time else None,
    )


def token_record(row: tuple[Any, ...]) -> TokenRecord:
    """(id, user, org, status, expire_time, permissions, user status) → record."""
    auth_id, user_id, org_id, status, expire, perms, owner_status = row
    return TokenRecord(
        auth_id,
        user_id,
        org_id,
        Status(status),
        micros_to_seconds(expire),
        decode_permissions(perms),
        user_status(owner_status),
    )


TOKEN_COLUMNS = (
    AuthorizationRow.id,
    AuthorizationRow.user,
    AuthorizationRow.org,
    AuthorizationRow.status,
    AuthorizationRow.expire_time,
    AuthorizationRow.permissions,
    UserRow.status.alias("user_status"),
)


class AuthorizationQueries(Engine):
    def create_authorization(self, auth: Authorization, token_digest: str) -> Authorization:
        AuthorizationRow.create(**authorization_row(auth, token_digest))
        return auth

    def get_authorization(self, auth_id: str) -> Authorization | None:
        row = _query().where(AuthorizationRow.id == auth_id).objects().first()
        return _auth(row) if row else None

    def list_authorizations(
        self, page: Page, *, user_id: str = "", org_id: str = "", auth_id: str = ""
    ) -> list[Authorization]:
        q = _query().where(AuthorizationRow.id > page.after)
        if user_id:
            q = q.where(AuthorizationRow.user == user_id)
        if org_id:
            q = q.where(AuthorizationRow.org == org_id)
        if auth_id:
            q = q.where(AuthorizationRow.id == auth_id)
        rows = q.order_by(AuthorizationRow.id).limit(page.limit).objects()
        return [_auth(r) for r in rows]

    def with_bucket_names(self, auths: list[Authorization]) -> list[Authorization]:
        """The authorizations with the names of the buckets their permissions
        name, in one query for the lot: only what is shown needs them (reads for
        a decision or a visibility check do not)."""
        return _with_bucket_names(auths)

    def update_authorization(self, auth: Authorization) -> Authorization:
        AuthorizationRow.update(
            status=int(auth.status),
            description=auth.description,
            update_time=to_micros(auth.update_time),
        ).where(AuthorizationRow.id == auth.id).execute()
        return auth

    def delete_authorization(self, auth_id: str) -> None:
        AuthorizationRow.delete().where(AuthorizationRow.id == auth_id).execute()

    def active_instance_writers(self) -> list[InstanceWriter]:
        """Every write:instance token that
        keeps the instance a way in: active, never expiring, owned by an active
        user. A token with an expire_time does not count: it would leave the
        instance without a way in when it lapses."""
        q = (
            AuthorizationRow.select(
                AuthorizationRow.id, AuthorizationRow.user, AuthorizationRow.org
            )
            .join(UserRow, on=(AuthorizationRow.user == UserRow.id))
            .where(
                AuthorizationRow.instance_writer == True,  # noqa: E712 (peewee expression)
                AuthorizationRow.status == int(Status.ACTIVE),
                UserRow.status == int(Status.ACTIVE),
                AuthorizationRow.expire_time.is_null(),
            )
        )
        rows: Any = q.tuples()
        return [InstanceWriter(*row) for row in rows]

    def token_record(self, token_digest: str) -> TokenRecord | None:
        row = (
            AuthorizationRow.select(*TOKEN_COLUMNS)
            .join(UserRow, JOIN.LEFT_OUTER, on=(AuthorizationRow.user == UserRow.id))
            .where(AuthorizationRow.token_digest == token_digest)
            .tuples()
            .first()
        )
        return token_record(row) if row else None

    def user_permissions(
        self, user_id: str, now: datetime
    ) -> tuple[tuple[Permission, ...], float | None]:
        """The permissions of the user's active, unexpired authorizations, in
        (create_time, id) order, and the earliest expiry among them (epoch s)."""
        t = to_micros(now)
        rows = (
            AuthorizationRow.select(AuthorizationRow.permissions, AuthorizationRow.expire_time)
            .where(
                AuthorizationRow.user == user_id,
                AuthorizationRow.status == int(Status.ACTIVE),
                (AuthorizationRow.expire_time.is_null()) | (AuthorizationRow.expire_time > t),
            )
            .order_by(AuthorizationRow.create_time, AuthorizationRow.id)
        )
        permissions: list[Permission] = []
        soonest = None
        for r in rows:
            permissions.extend(decode_permissions(r.permissions))
            if r.expire_time is not None and (soonest is None or r.expire_time < soonest):
                soonest = r.expire_time
        return tuple(permissions), micros_to_seconds(soonest)

    def user_token_permissions(self, user_id: str) -> list[Permission]:
        """Every permission of every authorization of the user, whatever its status
        or expiry (what a session of the user could ever hold)."""
        rows = AuthorizationRow.select(AuthorizationRow.permissions).where(
            AuthorizationRow.user == user_id
        )
        return [p for r in rows for p in decode_permissions(r.permissions)]

    def touch_last_used(self, used: dict[str, float]) -> None:
        """Bookkeeping, off the request path: authorization id -> epoch seconds.

        Does not bump the revision (no decision depends on it), but queues behind
        writers like every write does (IMMEDIATE on SQLite, the revision row's
        lock on PostgreSQL), so it can never deadlock with a multi-row delete.
        Chunked so that no writer waits long behind it."""
        items = sorted((k, seconds_to_micros(v)) for k, v in used.items())
        for start in range(0, len(items), 500):
            with self.transaction():
                if not self.is_sqlite:
                    Revision.select().where(Revision.id == 1).for_update().execute()
                chunk = items[start : start + 500]
                AuthorizationRow.update(last_used_time=Case(AuthorizationRow.id, chunk)).where(
                    AuthorizationRow.id.in_([auth_id for auth_id, _ in chunk])
                ).execute()
