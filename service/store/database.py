"""The Store: one object the use cases are handed, composed of one query class
per aggregate (orgs, users, buckets, authorizations, sessions) over the engine
(connections, transactions, error translation).

`Store` hands out domain values only (no rows, no microseconds, no permission
text), and every driver error a method meets reaches the caller as
StoreUnavailable.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from peewee import DatabaseError, fn

from service.domain.errors import StoreUnavailable

from . import migrations
from .authorizations import AuthorizationQueries
from .buckets import BucketQueries
from .codec import Page, SessionRecord, TokenRecord, decode_permissions, to_micros
from .engine import (
    DRIVER_ERRORS,
    NoDatabase,
    create_private_file,
    holds_authzd_schema,
    postgres_database,
    sqlite_database,
    translated,
)
from .models import (
    AuthorizationRow,
    BucketRow,
    OrganizationRow,
    SessionRow,
    UserRow,
    database,
)
from .orgs import OrgQueries
from .sessions import SessionQueries
from .users import UserQueries

__all__ = [
    "NoDatabase",
    "Page",
    "SessionRecord",
    "Store",
    "TokenRecord",
    "decode_permissions",
    "open_store",
    "to_micros",
]

# Context managers and connection handling translate on their own.
_UNWRAPPED = {"write", "read", "transaction", "close", "discard_connection"}


def _translate_every_query(cls: type[Any]) -> type[Any]:
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in _UNWRAPPED or getattr(member, "__wrapped__", None):
            continue
        setattr(cls, name, translated(member))
    return cls


@_translate_every_query
class Store(OrgQueries, UserQueries, BucketQueries, AuthorizationQueries, SessionQueries):
    def counts(self) -> dict[str, int]:
        return {
            "organizations": OrganizationRow.select(fn.COUNT(OrganizationRow.id)).scalar(),
            "users": UserRow.select(fn.COUNT(UserRow.id)).scalar(),
            "buckets": BucketRow.select(fn.COUNT(BucketRow.id)).scalar(),
            "authorizations": AuthorizationRow.select(fn.COUNT(AuthorizationRow.id)).scalar(),
            "sessions": SessionRow.select(fn.COUNT(SessionRow.id)).scalar(),
        }


def open_store(
    db_path: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    *,
    create: bool = True,
    pool_size: int = 32,
) -> Store:
    """Open (and migrate) the store. With create=False, refuse a path that holds
    no authzd database instead of creating one."""
    if database_url:
        db = postgres_database(database_url, pool_size)
    else:
        path = Path(db_path or "authzd.db")
        if not create and not path.exists():
            raise NoDatabase(f"{path}: no such file")
        # Look before connecting: the connection's pragmas (WAL) would rewrite
        # someone else's file before we could tell it is not ours.
        if not create and holds_authzd_schema(path) is False:
            raise NoDatabase(f"{path}: holds no authzd database")
        if create:
            try:
                create_private_file(path)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create {path}: {exc.strerror}") from exc
        db = sqlite_database(str(path))
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        if not create and not db.table_exists("schema_migration"):
            raise NoDatabase(f"{db_path or database_url}: holds no authzd database")
        migrations.migrate(db)
    except DRIVER_ERRORS as exc:
        raise StoreUnavailable(f"cannot open the store: {exc}") from exc
    except DatabaseError as exc:
        if database_url:
            raise StoreUnavailable(f"cannot open the store: {exc}".strip()) from exc
        raise NoDatabase(f"{db_path}: not an authzd database ({exc})") from exc
    return Store(db)

