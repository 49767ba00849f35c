"""Connections, transactions and error translation: the one place that knows
which database it talks to.

Every write runs in `write()`: IMMEDIATE on SQLite (so read-then-write cannot
deadlock), and the revision row is bumped first: the change signal other
processes poll, and a row lock that serializes writers on PostgreSQL too. Every
driver error a caller could see becomes StoreUnavailable here (`translated`),
so nothing above the store knows peewee.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from peewee import (
    Database,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SqliteDatabase,
)
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

from service.domain.errors import AlreadyExists, StoreUnavailable
from service.settings import require_extra

from . import notify
from .models import Revision, database

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # FULL: a commit is on disk before the RPC answers, even across power loss.
    "synchronous": "full",
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}

# The driver errors that mean "the store cannot be reached or used now".
DRIVER_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

F = TypeVar("F", bound=Callable[..., Any])


class NoDatabase(Exception):
    """The path holds no authzd database (recovery refuses to create one)."""


def sqlite_database(path: str) -> Database:
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


SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_file_problem(path: Path) -> str | None:
    """What stops `path` from being opened as an authzd SQLite database without
    changing it ("does not exist", "is a directory", "holds no authzd
    database", ...), or None. Opening sets pragmas (WAL), so recovery and
    backup look first. The one check of "is this our SQLite file"."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return "does not exist"
    except IsADirectoryError:
        return "is a directory"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if head != SQLITE_MAGIC or holds_authzd_schema(path) is False:
        return "holds no authzd database"
    return None


def holds_authzd_schema(path: Path) -> bool | None:
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


class _PostgresDatabase(ReconnectMixin, PooledPostgresqlDatabase):  # type: ignore[misc]
    """A pooled PostgreSQL database that reconnects (outside transactions) when the
    server dropped the connection: restarted, or the backend was terminated."""

    reconnect_errors = (
        (OperationalError, "server closed the connection"),
        (OperationalError, "terminating connection"),
        (OperationalError, "connection to server"),
        (OperationalError, "ssl connection has been closed"),
        (InterfaceError, "connection already closed"),
    )


def postgres_database(url: str, max_connections: int) -> Database:
    """libpq reads the whole URL (sslmode and the other query parameters
    included, percent-escapes decoded)."""
    require_extra("database_url")  # psycopg2: `pip install 'authzd[postgres]'`
    parsed = urlparse(url)
    return _PostgresDatabase(
        unquote((parsed.path or "/").lstrip("/")) or "postgres",
        dsn=url,
        max_connections=max_connections,
        stale_timeout=300,
        autoconnect=True,
    )


def unstorable(name: str) -> bool:
    """A name no row can hold: PostgreSQL text cannot contain NUL (psycopg2
    refuses to send it), and validation keeps control characters out of every
    stored name. Lookups by such a name find nothing, on every backend."""
    return "\x00" in name


@contextlib.contextmanager
def unique_name(what: str, name: str, org_id: str = "") -> Iterator[None]:
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


def translated(method: F) -> F:
    """Driver errors out of a store method become StoreUnavailable."""

    @functools.wraps(method)
    def call(self: Engine, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except DRIVER_ERRORS as exc:
            self.discard_connection()
            raise StoreUnavailable() from exc

    return call  # type: ignore[return-value]


class Engine:
    """The connection side of the Store: transactions and their errors."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.is_sqlite = isinstance(db, SqliteDatabase)
        self._local = threading.local()

    def close(self) -> None:
        if isinstance(self.db, PooledPostgresqlDatabase):
            self.db.close_all()
        elif not self.db.is_closed():
            self.db.close()

    def discard_connection(self) -> None:
        """After a connection error, drop this thread's connection so that its
        next query connects afresh instead of reusing a dead one. Inside a
        transaction the transaction's own exit does it."""
        if self.is_sqlite or self.db.in_transaction():
            return
        try:
            self.db.manual_close()  # type: ignore[attr-defined]
        except Exception:  # the connection is already unusable: forget it
            self.db._state.reset()  # type: ignore[attr-defined]  # noqa: SLF001

    @contextlib.contextmanager
    def _translating(self) -> Iterator[None]:
        """Around a whole transaction: a driver error (or one a method inside
        already translated) drops the connection once the transaction is over."""
        try:
            yield
        except StoreUnavailable:
            self.discard_connection()
            raise
        except DRIVER_ERRORS as exc:
            self.discard_connection()
            raise StoreUnavailable() from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One multi-statement write without a revision bump (bookkeeping no
        decision depends on): IMMEDIATE on SQLite, a plain transaction elsewhere."""
        with self._translating():
            txn = self.db.atomic(lock_type="IMMEDIATE") if self.is_sqlite else self.db.atomic()
            with txn:
                yield

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction that bumps the revision before anything else."""
        with self.transaction():
            Revision.update(value=Revision.value + 1).where(Revision.id == 1).execute()
            if not self.is_sqlite:
                self.db.execute_sql(f"NOTIFY {notify.CHANNEL}")
            yield

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A consistent snapshot for multi-query reads (PostgreSQL's default, READ
        COMMITTED, would give each statement its own)."""
        with self._translating():
            isolation = {} if self.is_sqlite else {"isolation_level": "REPEATABLE READ"}
            with self.db.atomic(**isolation):
                yield

    @translated
    def revision(self) -> int:
        return int(Revision.get_by_id(1).value)
