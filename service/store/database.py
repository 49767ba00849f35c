"""Opening the database and every query the use cases need.

`Store` hands out domain objects, never rows. Writes run inside `store.write()`,
which starts an IMMEDIATE transaction on SQLite (so read-then-write cannot
deadlock), and bumps the revision row first: the change signal other processes
poll, and a row lock that serializes writers on PostgreSQL too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import (
    JOIN,
    Case,
    Database,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SqliteDatabase,
    fn,
)
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

from service.domain.errors import AlreadyExists, StoreUnavailable
from service.domain.models import Authorization, Bucket, Organization, Session, Status, User
from service.domain.permissions import Permission, format_permission, parse_permission

from . import migrations, notify
from .models import (
    AuthorizationRow,
    BucketRow,
    OrganizationRow,
    Revision,
    SessionRow,
    SigninThrottleRow,
    UserRow,
    database,
)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # FULL: a commit is on disk before the RPC answers, even across power loss.
    "synchronous": "full",
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}


def to_micros(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def from_micros(v: int | None) -> datetime | None:
    if v is None:
        return None
    return datetime.fromtimestamp(v / 1_000_000, tz=UTC)


def _dt(v: int) -> datetime:
    return datetime.fromtimestamp(v / 1_000_000, tz=UTC)


def encode_permissions(ps: Sequence[Permission]) -> str:
    return "\n".join(format_permission(p) for p in ps)


# Parsed permissions, shared: 100,000 tokens over a few thousand buckets hold a
# few thousand distinct permissions, not a million copies. Bounded.
_PARSED: dict[str, Permission] = {}
_PARSED_MAX = 1_000_000


def _permission(line: str) -> Permission:
    p = _PARSED.get(line)
    if p is None:
        p = parse_permission(line)
        if len(_PARSED) < _PARSED_MAX:
            _PARSED[line] = p
    return p


def decode_permissions(text: str) -> tuple[Permission, ...]:
    return tuple(_permission(line) for line in text.split("\n") if line)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What CheckAccess needs about an API token, straight from one query."""

    authorization_id: str
    user_id: str
    org_id: str
    status: Status
    expire_time: int | None
    permissions: str
    user_status: Status


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    user_id: str
    expire_time: int
    user_status: Status


@dataclass(frozen=True, slots=True)
class Page:
    """Keyset pagination: rows with id > after, at most limit of them."""

    after: str
    limit: int


@contextlib.contextmanager
def _unique_name(what: str, name: str, org_id: str = "") -> Iterator[None]:
    """Run a write whose only expected integrity failure is a duplicate name
    (in a savepoint, so an enclosing transaction survives it): ALREADY_EXISTS."""
    try:
        with database.atomic():
            yield
    except IntegrityError:
        where = f" in organization {org_id}" if org_id else ""
        metadata = {"name": name, **({"org_id": org_id} if org_id else {})}
        raise AlreadyExists(
            f"{what} {name!r} already exists{where}",
            reason=f"{what.upper()}_ALREADY_EXISTS",
            metadata=metadata,
        ) from None


class NoDatabase(Exception):
    """The path holds no authzd database (recovery refuses to create one)."""


def _unstorable(name: str) -> bool:
    """A name no row can hold: PostgreSQL text cannot contain NUL (psycopg2
    refuses to send it), and validation keeps control characters out of every
    stored name. Lookups by such a name find nothing, on every backend."""
    return "\x00" in name


def _sqlite(path: str) -> Database:
    return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)


def create_private_file(path: Path) -> None:
    """Create the database file 0600 if it does not exist yet: it holds password
    hashes and token digests. SQLite gives the -wal and -shm files it creates the
    mode of the database file, so they are 0600 too. An existing file keeps
    the mode its owner gave it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _holds_authzd_schema(path: Path) -> bool | None:
    """Whether the SQLite file at path has our schema, read without writing a
    byte; None when it cannot be told this way (locked, no permission), and the
    normal open decides."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'"
        ).fetchone()
        return row is not None
    except sqlite3.OperationalError:
        return None
    except sqlite3.DatabaseError:
        return False  # not a SQLite file at all
    finally:
        con.close()


class _PostgresDatabase(ReconnectMixin, PooledPostgresqlDatabase):
    """A pooled PostgreSQL database that reconnects (outside transactions) when the
    server dropped the connection: restarted, or the backend was terminated."""

    reconnect_errors = (
        (OperationalError, "server closed the connection"),
        (OperationalError, "terminating connection"),
        (OperationalError, "connection to server"),
        (OperationalError, "ssl connection has been closed"),
        (InterfaceError, "connection already closed"),
    )


def _postgres(url: str, max_connections: int) -> Database:
    """libpq reads the whole URL (sslmode and the other query parameters
    included, percent-escapes decoded)."""
    parsed = urlparse(url)
    return _PostgresDatabase(
        unquote((parsed.path or "/").lstrip("/")) or "postgres",
        dsn=url,
        max_connections=max_connections,
        stale_timeout=300,
        autoconnect=True,
    )


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
        db = _postgres(database_url, pool_size)
    else:
        path = Path(db_path or "authzd.db")
        if not create and not path.exists():
            raise NoDatabase(f"{path}: no such file")
        # Look before connecting: the connection's pragmas (WAL) would rewrite
        # someone else's file before we could tell it is not ours.
        if not create and _holds_authzd_schema(path) is False:
            raise NoDatabase(f"{path}: holds no authzd database")
        if create:
            try:
                create_private_file(path)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create {path}: {exc.strerror}") from exc
        db = _sqlite(str(path))
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        if not create and not db.table_exists("schema_migration"):
            raise NoDatabase(f"{db_path or database_url}: holds no authzd database")
        migrations.migrate(db)
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailable(f"cannot open the store: {exc}") from exc
    except DatabaseError as exc:
        if database_url:
            raise StoreUnavailable(f"cannot open the store: {exc}".strip()) from exc
        raise NoDatabase(f"{db_path}: not an authzd database ({exc})") from exc
    return Store(db)


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.is_sqlite = isinstance(db, SqliteDatabase)
        self._local = threading.local()

    def close(self) -> None:
        if isinstance(self.db, PooledPostgresqlDatabase):
            self.db.close_all()
        elif not self.db.is_closed():
            self.db.close()

    def _discard_connection(self) -> None:
        """After a connection error, drop this thread's connection so that its
        next query connects afresh instead of reusing a dead one."""
        if self.is_sqlite:
            return
        try:
            self.db.manual_close()
        except Exception:  # the connection is already unusable: forget it
            self.db._state.reset()  # noqa: SLF001 (peewee has no public way)

    # -- transactions ------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction that bumps the revision before anything else."""
        try:
            txn = self.db.atomic(lock_type="IMMEDIATE") if self.is_sqlite else self.db.atomic()
            with txn:
                Revision.update(value=Revision.value + 1).where(Revision.id == 1).execute()
                if not self.is_sqlite:
                    self.db.execute_sql(f"NOTIFY {notify.CHANNEL}")
                yield
        except (OperationalError, InterfaceError) as exc:
            self._discard_connection()
            raise StoreUnavailable() from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A consistent snapshot for multi-query reads (PostgreSQL's default, READ
        COMMITTED, would give each statement its own)."""
        try:
            txn = (
                self.db.atomic()
                if self.is_sqlite
                else self.db.atomic(isolation_level="REPEATABLE READ")
            )
            with txn:
                yield
        except (OperationalError, InterfaceError) as exc:
            self._discard_connection()
            raise StoreUnavailable() from exc

    def revision(self) -> int:
        try:
            return Revision.get_by_id(1).value
        except (OperationalError, InterfaceError) as exc:
            self._discard_connection()
            raise StoreUnavailable() from exc

    def integrity_ok(self) -> bool:
        if not self.is_sqlite:
            return True
        return self.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- organizations -----------------------------------------------------

    @staticmethod
    def _org(row: OrganizationRow) -> Organization:
        return Organization(
            row.id, row.name, row.description, _dt(row.create_time), _dt(row.update_time)
        )

    def create_org(self, org: Organization) -> Organization:
        with _unique_name("organization", org.name):
            OrganizationRow.create(
                id=org.id,
                name=org.name,
                description=org.description,
                create_time=to_micros(org.create_time),
                update_time=to_micros(org.update_time),
            )
        return org

    def get_org(self, org_id: str) -> Organization | None:
        row = OrganizationRow.get_or_none(OrganizationRow.id == org_id)
        return self._org(row) if row else None

    def get_org_by_name(self, name: str) -> Organization | None:
        if _unstorable(name):
            return None
        row = OrganizationRow.get_or_none(OrganizationRow.name == name)
        return self._org(row) if row else None

    def list_orgs(self, page: Page, name: str = "") -> list[Organization]:
        if _unstorable(name):
            return []
        q = OrganizationRow.select().where(OrganizationRow.id > page.after)
        if name:
            q = q.where(OrganizationRow.name == name)
        return [self._org(r) for r in q.order_by(OrganizationRow.id).limit(page.limit)]

    def update_org(self, org: Organization) -> Organization:
        with _unique_name("organization", org.name):
            OrganizationRow.update(
                name=org.name,
                description=org.description,
                update_time=to_micros(org.update_time),
            ).where(OrganizationRow.id == org.id).execute()
        return org

    def delete_org(self, org_id: str) -> None:
        # Explicit, not only ON DELETE CASCADE: the same on every backend.
        AuthorizationRow.delete().where(AuthorizationRow.org == org_id).execute()
        BucketRow.delete().where(BucketRow.org == org_id).execute()
        OrganizationRow.delete().where(OrganizationRow.id == org_id).execute()

    def setup_allowed(self) -> bool:
        return not (UserRow.select().exists() or OrganizationRow.select().exists())

    # -- users -------------------------------------------------------------

    @staticmethod
    def _user(row: UserRow) -> User:
        return User(
            row.id,
            row.name,
            Status(row.status),
            row.password_hash is not None,
            _dt(row.create_time),
            _dt(row.update_time),
        )

    def create_user(self, user: User, password_hash: str | None) -> User:
        with _unique_name("user", user.name):
            UserRow.create(
                id=user.id,
                name=user.name,
                status=int(user.status),
                password_hash=password_hash,
                create_time=to_micros(user.create_time),
                update_time=to_micros(user.update_time),
            )
        return user

    def get_user(self, user_id: str) -> User | None:
        row = UserRow.get_or_none(UserRow.id == user_id)
        return self._user(row) if row else None

    def get_user_by_name(self, name: str) -> User | None:
        if _unstorable(name):
            return None
        row = UserRow.get_or_none(UserRow.name == name)
        return self._user(row) if row else None

    def list_users(self, page: Page, name: str = "") -> list[User]:
        if _unstorable(name):
            return []
        q = UserRow.select().where(UserRow.id > page.after)
        if name:
            q = q.where(UserRow.name == name)
        return [self._user(r) for r in q.order_by(UserRow.id).limit(page.limit)]

    def update_user(self, user: User) -> User:
        with _unique_name("user", user.name):
            UserRow.update(
                name=user.name,
                status=int(user.status),
                update_time=to_micros(user.update_time),
            ).where(UserRow.id == user.id).execute()
        return user

    def delete_user(self, user_id: str) -> None:
        SessionRow.delete().where(SessionRow.user == user_id).execute()
        AuthorizationRow.delete().where(AuthorizationRow.user == user_id).execute()
        UserRow.delete().where(UserRow.id == user_id).execute()

    def password_hash(self, user_id: str) -> str | None:
        row = UserRow.get_or_none(UserRow.id == user_id)
        return row.password_hash if row else None

    def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None:
        UserRow.update(password_hash=password_hash, update_time=to_micros(now)).where(
            UserRow.id == user_id
        ).execute()

    def signin_state(self, user_id: str) -> tuple[int, int]:
        """(consecutive failures, throttled-until micros)."""
        row = UserRow.get_or_none(UserRow.id == user_id)
        return (row.failed_signins, row.throttled_until) if row else (0, 0)

    def set_signin_state(self, user_id: str, failures: int, throttled_until: int) -> None:
        UserRow.update(failed_signins=failures, throttled_until=throttled_until).where(
            UserRow.id == user_id
        ).execute()

    def record_signin_failure(self, user_id: str, now: int, backoff: Callable[[int], int]) -> int:
        """Count one failed sign-in atomically (concurrent failures must not be
        lost, or parallel guessing slips past the throttle) and throttle the
        account until now + backoff(failures) micros. Returns the new count.
        No revision bump: no decision depends on it."""
        try:
            txn = self.db.atomic(lock_type="IMMEDIATE") if self.is_sqlite else self.db.atomic()
            with txn:
                # The UPDATE takes the row lock first, so the read below is ours.
                UserRow.update(failed_signins=UserRow.failed_signins + 1).where(
                    UserRow.id == user_id
                ).execute()
                failures = (
                    UserRow.select(UserRow.failed_signins).where(UserRow.id == user_id).scalar()
                ) or 0
                delay = backoff(failures)
                if delay:
                    UserRow.update(throttled_until=now + delay).where(
                        UserRow.id == user_id
                    ).execute()
        except (OperationalError, InterfaceError) as exc:
            self._discard_connection()
            raise StoreUnavailable() from exc
        return failures

    def name_signin_state(self, key: str) -> tuple[int, int]:
        """(failures, throttled-until micros) of a name with no account."""
        row = SigninThrottleRow.get_or_none(SigninThrottleRow.key == key)
        return (row.failures, row.throttled_until) if row else (0, 0)

    def record_name_signin_failure(
        self, key: str, now: int, backoff: Callable[[int], int]
    ) -> int:
        """record_signin_failure for a name with no account (see SigninThrottleRow)."""
        try:
            txn = self.db.atomic(lock_type="IMMEDIATE") if self.is_sqlite else self.db.atomic()
            with txn:
                SigninThrottleRow.insert(key=key, failures=1, last_failure=now).on_conflict(
                    conflict_target=[SigninThrottleRow.key],
                    update={
                        SigninThrottleRow.failures: SigninThrottleRow.failures + 1,
                        SigninThrottleRow.last_failure: now,
                    },
                ).execute()
                failures = (
                    SigninThrottleRow.select(SigninThrottleRow.failures)
                    .where(SigninThrottleRow.key == key)
                    .scalar()
                ) or 0
                delay = backoff(failures)
                if delay:
                    SigninThrottleRow.update(throttled_until=now + delay).where(
                        SigninThrottleRow.key == key
                    ).execute()
        except (OperationalError, InterfaceError) as exc:
            self._discard_connection()
            raise StoreUnavailable() from exc
        return failures

    def purge_name_throttles(self, idle_since: int, now: int) -> int:
        """Forget names whose last failure is older than idle_since and that are
        not throttled now (housekeeping, so guessed names do not pile up)."""
        return (
            SigninThrottleRow.delete()
            .where(
                SigninThrottleRow.last_failure < idle_since,
                SigninThrottleRow.throttled_until <= now,
            )
            .execute()
        )

    # -- buckets -----------------------------------------------------------

    @staticmethod
    def _bucket(row: BucketRow, org_name: str) -> Bucket:
        return Bucket(
            row.id,
            row.org_id,
            org_name,
            row.name,
            row.description,
            _dt(row.create_time),
            _dt(row.update_time),
        )

    def _bucket_query(self):  # type: ignore[no-untyped-def]
        return BucketRow.select(BucketRow, OrganizationRow.name.alias("org_name")).join(
            OrganizationRow
        )

    def create_bucket(self, bucket: Bucket) -> Bucket:
        with _unique_name("bucket", bucket.name, org_id=bucket.org_id):
            BucketRow.create(
                id=bucket.id,
                org=bucket.org_id,
                name=bucket.name,
                description=bucket.description,
                create_time=to_micros(bucket.create_time),
                update_time=to_micros(bucket.update_time),
            )
        return bucket

    def get_bucket(self, bucket_id: str) -> Bucket | None:
        row = self._bucket_query().where(BucketRow.id == bucket_id).objects().first()
        return self._bucket(row, row.org_name) if row else None

    def list_buckets(self, page: Page, org_id: str = "", name: str = "") -> list[Bucket]:
        if _unstorable(name):
            return []
        q = self._bucket_query().where(BucketRow.id > page.after)
        if org_id:
            q = q.where(BucketRow.org == org_id)
        if name:
            q = q.where(BucketRow.name == name)
        rows = q.order_by(BucketRow.id).limit(page.limit).objects()
        return [self._bucket(r, r.org_name) for r in rows]

    def update_bucket(self, bucket: Bucket) -> Bucket:
        with _unique_name("bucket", bucket.name, org_id=bucket.org_id):
            BucketRow.update(
                name=bucket.name,
                description=bucket.description,
                update_time=to_micros(bucket.update_time),
            ).where(BucketRow.id == bucket.id).execute()
        return bucket

    def delete_bucket(self, bucket_id: str) -> None:
        BucketRow.delete().where(BucketRow.id == bucket_id).execute()

    # -- authorizations ----------------------------------------------------

    def _auth_query(self):  # type: ignore[no-untyped-def]
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

    @staticmethod
    def _auth(row: AuthorizationRow) -> Authorization:
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
            create_time=_dt(row.create_time),
            update_time=_dt(row.update_time),
            expire_time=from_micros(row.expire_time),
            last_used_time=from_micros(row.last_used_time),
        )

    def create_authorization(
        self, auth: Authorization, token_digest: str, instance_writer: bool
    ) -> Authorization:
        AuthorizationRow.create(
            id=auth.id,
            org=auth.org_id,
            user=auth.user_id,
            description=auth.description,
            status=int(auth.status),
            permissions=encode_permissions(auth.permissions),
            instance_writer=instance_writer,
            token_digest=token_digest,
            token_hint=auth.token_hint,
            create_time=to_micros(auth.create_time),
            update_time=to_micros(auth.update_time),
            expire_time=to_micros(auth.expire_time) if auth.expire_time else None,
        )
        return auth

    def get_authorization(self, auth_id: str) -> Authorization | None:
        row = self._auth_query().where(AuthorizationRow.id == auth_id).objects().first()
        return self._auth(row) if row else None

    def list_authorizations(
        self, page: Page, *, user_id: str = "", org_id: str = "", auth_id: str = ""
    ) -> list[Authorization]:
        q = self._auth_query().where(AuthorizationRow.id > page.after)
        if user_id:
            q = q.where(AuthorizationRow.user == user_id)
        if org_id:
            q = q.where(AuthorizationRow.org == org_id)
        if auth_id:
            q = q.where(AuthorizationRow.id == auth_id)
        rows = q.order_by(AuthorizationRow.id).limit(page.limit).objects()
        return [self._auth(r) for r in rows]

    def update_authorization(self, auth: Authorization) -> Authorization:
        AuthorizationRow.update(
            status=int(auth.status),
            description=auth.description,
            update_time=to_micros(auth.update_time),
        ).where(AuthorizationRow.id == auth.id).execute()
        return auth

    def delete_authorization(self, auth_id: str) -> None:
        AuthorizationRow.delete().where(AuthorizationRow.id == auth_id).execute()

    def active_instance_writers(self, now: datetime) -> list[tuple[str, str, str]]:
        """(authorization id, user id, org id) of every write:instance token that
        keeps the instance a way in: active, never expiring, owned by an active
        user. A token with an expire_time does not count: it would leave the
        instance without a way in when it lapses."""
        del now  # kept for callers: the rule no longer depends on the time
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
        return [(r.id, r.user_id, r.org_id) for r in q]

    def user_token_permissions(self, user_id: str) -> list[Permission]:
        """Every permission of every authorization of the user, whatever its status
        or expiry (what a session of the user could ever hold)."""
        rows = AuthorizationRow.select(AuthorizationRow.permissions).where(
            AuthorizationRow.user == user_id
        )
        return [p for r in rows for p in decode_permissions(r.permissions)]

    def token_record(self, token_digest: str) -> TokenRecord | None:
        row = (
            AuthorizationRow.select(
                AuthorizationRow.id,
                AuthorizationRow.user,
                AuthorizationRow.org,
                AuthorizationRow.status,
                AuthorizationRow.expire_time,
                AuthorizationRow.permissions,
                UserRow.status.alias("user_status"),
            )
            .join(UserRow, JOIN.LEFT_OUTER, on=(AuthorizationRow.user == UserRow.id))
            .where(AuthorizationRow.token_digest == token_digest)
            .objects()
            .first()
        )
        if row is None:
            return None
        return TokenRecord(
            row.id,
            row.user_id,
            row.org_id,
            Status(row.status),
            row.expire_time,
            row.permissions,
            Status(row.user_status) if row.user_status else Status.INACTIVE,
        )

    def user_permissions(self, user_id: str, now: datetime) -> tuple[str, int | None]:
        """The permission texts of the user's active, unexpired authorizations, in
        (create_time, id) order, and the earliest expire_time among them."""
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
        texts, soonest = [], None
        for r in rows:
            texts.append(r.permissions)
            if r.expire_time is not None and (soonest is None or r.expire_time < soonest):
                soonest = r.expire_time
        return "\n".join(texts), soonest

    def touch_last_used(self, used: dict[str, int]) -> None:
        """Bookkeeping, off the request path: authorization id -> micros.

        Does not bump the revision (no decision depends on it), but queues behind
        writers like every write does (IMMEDIATE on SQLite, the revision row's
        lock on PostgreSQL), so it can never deadlock with a multi-row delete.
        Chunked so that no writer waits long behind it."""
        items = sorted(used.items())
        for start in range(0, len(items), 500):
            txn = self.db.atomic(lock_type="IMMEDIATE") if self.is_sqlite else self.db.atomic()
            with txn:
                if not self.is_sqlite:
                    Revision.select().where(Revision.id == 1).for_update().execute()
                chunk = items[start : start + 500]
                AuthorizationRow.update(last_used_time=Case(AuthorizationRow.id, chunk)).where(
                    AuthorizationRow.id.in_([auth_id for auth_id, _ in chunk])
                ).execute()

    # -- sessions ----------------------------------------------------------

    def create_session(self, session: Session, token_digest: str) -> Session:
        SessionRow.create(
            id=session.id,
            user=session.user_id,
            token_digest=token_digest,
            create_time=to_micros(session.create_time),
            expire_time=to_micros(session.expire_time),
        )
        return session

    def session_record(self, token_digest: str) -> SessionRecord | None:
        row = (
            SessionRow.select(
                SessionRow.id,
                SessionRow.user,
                SessionRow.expire_time,
                UserRow.status.alias("user_status"),
            )
            .join(UserRow, JOIN.LEFT_OUTER, on=(SessionRow.user == UserRow.id))
            .where(SessionRow.token_digest == token_digest)
            .objects()
            .first()
        )
        if row is None:
            return None
        user_status = Status(row.user_status) if row.user_status else Status.INACTIVE
        return SessionRecord(row.id, row.user_id, row.expire_time, user_status)

    def delete_session(self, session_id: str) -> None:
        SessionRow.delete().where(SessionRow.id == session_id).execute()

    def delete_sessions_of(self, user_id: str, except_session_id: str = "") -> int:
        """End every session of a user (but one: the caller's own, for a self
        password change). Call inside a write transaction."""
        q = SessionRow.delete().where(SessionRow.user == user_id)
        if except_session_id:
            q = q.where(SessionRow.id != except_session_id)
        return q.execute()

    def delete_expired_sessions(self, now: datetime) -> int:
        return SessionRow.delete().where(SessionRow.expire_time <= to_micros(now)).execute()

    def counts(self) -> dict[str, int]:
        return {
            "organizations": OrganizationRow.select(fn.COUNT(OrganizationRow.id)).scalar(),
            "users": UserRow.select(fn.COUNT(UserRow.id)).scalar(),
            "buckets": BucketRow.select(fn.COUNT(BucketRow.id)).scalar(),
            "authorizations": AuthorizationRow.select(fn.COUNT(AuthorizationRow.id)).scalar(),
            "sessions": SessionRow.select(fn.COUNT(SessionRow.id)).scalar(),
        }


# What a caller outside the store may catch as "the store is down" without
# importing peewee.
STORE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
