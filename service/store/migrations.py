"""Numbered schema migrations, applied in order at start, each in its own
transaction and recorded in `schema_migration`. Never edit a released migration:
add the next number."""

from __future__ import annotations

import time
from collections.abc import Callable

from peewee import Database, PostgresqlDatabase

from .models import ALL_MODELS, Revision, SchemaMigration, SigninThrottleRow


def _m0001_initial(db: Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)
    Revision.insert(id=1, value=0).on_conflict_ignore().execute()


def _m0002_signin_throttle(db: Database) -> None:
    db.create_tables([SigninThrottleRow], safe=True)


def _m0003_bucket_retention_rules(db: Database) -> None:
    # Migration 1 makes the tables from today's models, so a new database has
    # the column already; an older one gets it here.
    if "retention_rules" not in {c.name for c in db.get_columns("bucket")}:
        db.execute_sql("ALTER TABLE bucket ADD COLUMN retention_rules TEXT NOT NULL DEFAULT ''")


MIGRATIONS: list[tuple[int, Callable[[Database], None]]] = [
    (1, _m0001_initial),
    (2, _m0002_signin_throttle),
    (3, _m0003_bucket_retention_rules),
]

LATEST = MIGRATIONS[-1][0]


def applied_versions(db: Database) -> set[int]:
    if not db.table_exists(SchemaMigration._meta.table_name):
        return set()
    return {row.version for row in SchemaMigration.select(SchemaMigration.version)}


# Held while migrating on PostgreSQL, so replicas starting at once on an empty
# database take turns: one migrates, the others wait and then find nothing to do.
_ADVISORY_LOCK_KEY = 0x617574687A64  # "authzd"


def migrate(db: Database) -> list[int]:
    """Apply the missing migrations; return the versions applied now."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            return _migrate(db)
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    return _migrate(db)


def _migrate(db: Database) -> list[int]:
    # Only when missing: CREATE ... IF NOT EXISTS still needs the CREATE privilege,
    # which a replica running as a least-privilege role does not have.
    if not db.table_exists(SchemaMigration._meta.table_name):
        db.create_tables([SchemaMigration])
    done = applied_versions(db)
    applied = []
    for version, step in MIGRATIONS:
        if version in done:
            continue
        with db.atomic():
            step(db)
            SchemaMigration.insert(version=version, applied_at=int(time.time() * 1e6)).execute()
        applied.append(version)
    return applied
