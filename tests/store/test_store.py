"""The store on each backend (STYLE: tests/store): a real SQLite file in tmp_path,
and the run's PostgreSQL database. Migrations, the revision signal, constraints,
cascades and queries are one parametrised suite; what only one backend has (SQLite
pragmas and files; PostgreSQL's advisory lock, NOTIFY, reconnects) is tested on
that backend alone."""

from __future__ import annotations

import dataclasses
import json
import select
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peewee import IntegrityError

from service.domain.errors import AlreadyExists, StoreUnavailable
from service.domain.models import (
    Authorization,
    Bucket,
    Organization,
    RetentionRule,
    Session,
    Status,
    User,
)
from service.domain.permissions import Action, Permission, ResourceType
from service.store import Store, migrations, notify, open_store
from service.store.database import NoDatabase, Page
from tests.conftest import postgresql_only, raw_connection, raw_query

T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
TABLES = ("organization", "user", "bucket", "authorization", "session")


# -- builders ----------------------------------------------------------------

_counter = iter(range(1, 10**9))


def new_id() -> str:
    return f"{next(_counter):016x}"


def org(name: str) -> Organization:
    return Organization(new_id(), name, "", T0, T0)


def user(name: str, status: Status = Status.ACTIVE) -> User:
    return User(new_id(), name, status, False, T0, T0)


def bucket(o: Organization, name: str) -> Bucket:
    return Bucket(new_id(), o.id, o.name, name, "", T0, T0)


def auth(
    o: Organization,
    u: User,
    *perms: Permission,
    status: Status = Status.ACTIVE,
    expire: datetime | None = None,
    created: datetime = T0,
) -> Authorization:
    perms = perms or (Permission(Action.READ, ResourceType.BUCKETS, o.id),)
    return Authorization(
        id=new_id(),
        org_id=o.id,
        org_name=o.name,
        user_id=u.id,
        user_name=u.name,
        description="",
        status=status,
        permissions=tuple(perms),
        token_hint="azt_xxxx",
        create_time=created,
        update_time=created,
        expire_time=expire,
    )


def add_auth(store: Store, a: Authorization) -> Authorization:
    with store.write():
        return store.create_authorization(a, f"{a.id:0>64}")


def add_session(store: Store, u: User, expire: datetime = T0 + timedelta(hours=1)) -> Session:
    s = Session(new_id(), u.id, T0, expire)
    with store.write():
        store.create_session(s, f"{s.id:f>64}")
    return s


def raw_counts(location: dict[str, str]) -> dict[str, int]:
    """Row counts seen by a connection of its own: what is committed."""
    conn = raw_connection(location)
    try:
        cur = conn.cursor()
        counts = {}
        for t in TABLES:
            cur.execute(f'SELECT COUNT(*) FROM "{t}"')
            counts[t] = cur.fetchone()[0]
        return counts
    finally:
        conn.close()


def open_at(location: dict[str, str], **kwargs: object) -> Store:
    return open_store(
        location.get("db") or None, location.get("database_url") or None, **kwargs  # type: ignore[arg-type]
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """For what only SQLite has: files."""
    return tmp_path / "authzd.db"


@pytest.fixture
def store(store_location: dict[str, str]) -> Iterator[Store]:
    s = open_at(store_location)
    try:
        yield s
    finally:
        s.close()


# -- migrations ------------------------------------------------------------------


def test_migrations_are_recorded(store: Store, store_location: dict[str, str]) -> None:
    query = "SELECT version FROM schema_migration ORDER BY version"
    versions = [r[0] for r in raw_query(store_location, query)]
    assert versions == [v for v, _ in migrations.MIGRATIONS]
    assert versions[-1] == migrations.LATEST
    assert {*TABLES, "revision", "schema_migration"} <= set(store.db.get_tables())
    assert raw_query(store_location, "SELECT value FROM revision WHERE id = 1") == [(0,)]


def test_a_database_from_before_migration_3_gets_the_retention_column(
    store_location: dict[str, str],
) -> None:
    """An existing bucket table without retention_rules (made before migration 3)
    gets the column; its rows read back with no rules."""
    first = open_at(store_location)
    o = org("acme")
    with first.write():
        first.create_org(o)
        first.create_bucket(bucket(o, "old"))
    first.close()
    raw_query(store_location, "ALTER TABLE bucket DROP COLUMN retention_rules")
    raw_query(store_location, "DELETE FROM schema_migration WHERE version = 3")
    again = open_at(store_location)
    try:
        (found,) = again.list_buckets(Page("", 10))
        assert (found.name, found.retention_rules) == ("old", ())
        rules = (RetentionRule("expire", 3600),)
        with again.write():
            again.update_bucket(dataclasses.replace(found, retention_rules=rules))
        assert again.get_bucket(found.id).retention_rules == rules
    finally:
        again.close()


def test_reopen_is_idempotent(store_location: dict[str, str]) -> None:
    first = open_at(store_location)
    o = org("acme")
    with first.write():
        first.create_org(o)
    revision = first.revision()
    first.close()

    def recorded() -> list[tuple[int, int]]:
        return raw_query(
            store_location, "SELECT version, applied_at FROM schema_migration ORDER BY version"
        )

    before = recorded()
    assert [v for v, _ in before] == [v for v, _ in migrations.MIGRATIONS]
    for _ in range(2):
        again = open_at(store_location)
        try:
            assert migrations.migrate(again.db) == []  # nothing left to apply
            assert again.get_org(o.id) == o
            assert again.revision() == revision
        finally:
            again.close()
    assert recorded() == before  # not re-applied, not re-stamped


def test_sqlite_pragmas(db_path: Path) -> None:
    store = open_store(db_path)

    def pragma(name: str) -> object:
        return store.db.execute_sql(f"PRAGMA {name}").fetchone()[0]

    try:
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 10_000
        assert pragma("synchronous") == 2  # FULL
        # WAL is a property of the file: another connection sees it too.
        con = sqlite3.connect(str(db_path))
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            con.close()
    finally:
        store.close()


def test_foreign_keys_are_enforced(store: Store) -> None:
    ghost = user("ghost")  # never stored
    with pytest.raises(IntegrityError), store.write():
        store.create_session(Session(new_id(), ghost.id, T0, T0), "f" * 64)
    o = org("acme")
    with store.write():
        store.create_org(o)
    with pytest.raises(IntegrityError), store.write():
        store.create_authorization(auth(o, ghost), "e" * 64)
    assert store.counts()["authorizations"] == 0


# -- the revision signal -------------------------------------------------------


def test_revision_bumps_on_every_write(store: Store, store_location: dict[str, str]) -> None:
    start = store.revision()
    for i in range(1, 4):
        with store.write():
            pass
        assert store.revision() == start + i
    with store.write():
        store.create_org(org("acme"))
        store.create_user(user("alice"), None)
    assert store.revision() == start + 4  # one per transaction, not per statement
    # Committed: another connection sees it.
    assert raw_query(store_location, "SELECT value FROM revision") == [(start + 4,)]


def test_failed_write_rolls_back_with_its_revision(store: Store) -> None:
    start = store.revision()
    o = org("acme")
    with pytest.raises(RuntimeError), store.write():
        store.create_org(o)
        raise RuntimeError("boom")
    assert store.revision() == start
    assert store.get_org(o.id) is None


def test_a_read_sees_one_snapshot(store: Store, store_location: dict[str, str]) -> None:
    """store.read() promises multi-query reads a consistent snapshot: a commit by
    another connection in the middle is not seen until the read ends (SQLite's
    WAL read transaction; REPEATABLE READ on PostgreSQL, where the default READ
    COMMITTED would show it)."""
    start = store.revision()
    with store.read():
        assert store.revision() == start
        raw_query(store_location, "UPDATE revision SET value = value + 1")
        assert store.revision() == start
    assert store.revision() == start + 1


def test_bookkeeping_does_not_bump_revision(store: Store) -> None:
    o, u = org("acme"), user("alice")
    with store.write():
        store.create_org(o)
        store.create_user(u, "hash")
    a = add_auth(store, auth(o, u))
    start = store.revision()
    store.touch_last_used({a.id: T0.timestamp()})
    assert store.get_authorization(a.id).last_used_time == T0
    store.record_signin_failure(u.id, T0.timestamp(), lambda n: 0)
    assert store.revision() == start


# -- unique constraints ------------------------------------------------------------


def test_unique_org_and_user_names(store: Store) -> None:
    with store.write():
        acme, globex = org("acme"), org("globex")
        store.create_org(acme)
        store.create_org(globex)
        alice, bob = user("alice"), user("bob")
        store.create_user(alice, None)
        store.create_user(bob, None)

    with pytest.raises(AlreadyExists) as exc, store.write():
        store.create_org(org("acme"))
    assert exc.value.reason == "ORGANIZATION_ALREADY_EXISTS"
    with pytest.raises(AlreadyExists) as exc, store.write():
        store.update_org(Organization(globex.id, "acme", "", T0, T0))
    assert exc.value.reason == "ORGANIZATION_ALREADY_EXISTS"
    with pytest.raises(AlreadyExists) as exc, store.write():
        store.create_user(user("alice"), None)
    assert exc.value.reason == "USER_ALREADY_EXISTS"
    with pytest.raises(AlreadyExists) as exc, store.write():
        store.update_user(User(bob.id, "alice", Status.ACTIVE, False, T0, T0))
    assert exc.value.reason == "USER_ALREADY_EXISTS"

    assert store.get_org(globex.id).name == "globex"
    assert store.get_user(bob.id).name == "bob"
    assert store.counts() == {
        "organizations": 2, "users": 2, "buckets": 0, "authorizations": 0, "sessions": 0
    }


def test_unique_bucket_name_per_org(store: Store) -> None:
    acme, globex = org("acme"), org("globex")
    with store.write():
        store.create_org(acme)
        store.create_org(globex)
        first = store.create_bucket(bucket(acme, "telemetry"))
        logs = store.create_bucket(bucket(acme, "logs"))
        # the same name in another org is another bucket
        store.create_bucket(bucket(globex, "telemetry"))
    with pytest.raises(AlreadyExists) as exc, store.write():
        store.create_bucket(bucket(acme, "telemetry"))
    assert exc.value.reason == "BUCKET_ALREADY_EXISTS"
    with pytest.raises(AlreadyExists) as exc, store.write():
        store.update_bucket(Bucket(logs.id, acme.id, "acme", "telemetry", "", T0, T0))
    assert exc.value.reason == "BUCKET_ALREADY_EXISTS"
    assert store.get_bucket(first.id).name == "telemetry"
    assert store.get_bucket(logs.id).name == "logs"
    assert store.counts()["buckets"] == 3


def test_transaction_survives_a_duplicate(store: Store) -> None:
    # The duplicate fails inside a savepoint: the rest of the transaction commits.
    with store.write():
        store.create_org(org("acme"))
        with pytest.raises(AlreadyExists):
            store.create_org(org("acme"))
        store.create_org(org("globex"))
    names = sorted(o.name for o in store.list_orgs(Page("", 10)))
    assert names == ["acme", "globex"]


# -- cascades ----------------------------------------------------------------------


@pytest.fixture
def populated(store: Store):
    """Two orgs with buckets, two users with tokens in both orgs and sessions."""
    acme, globex = org("acme"), org("globex")
    alice, bob = user("alice"), user("bob")
    with store.write():
        for o in (acme, globex):
            store.create_org(o)
        for u in (alice, bob):
            store.create_user(u, "hash")
        buckets = {
            "acme": [store.create_bucket(bucket(acme, n)) for n in ("a1", "a2")],
            "globex": [store.create_bucket(bucket(globex, "g1"))],
        }
    auths = {
        (o.name, u.name): add_auth(store, auth(o, u)) for o in (acme, globex) for u in (alice, bob)
    }
    sessions = {u.name: [add_session(store, u), add_session(store, u)] for u in (alice, bob)}
    return acme, globex, alice, bob, buckets, auths, sessions


def test_delete_org_cascades(
    store: Store, store_location: dict[str, str], populated
) -> None:
    acme, globex, alice, bob, buckets, auths, sessions = populated
    before = raw_counts(store_location)
    with store.write():
        store.delete_org(acme.id)
    assert raw_counts(store_location) == {
        **before,
        "organization": before["organization"] - 1,
        "bucket": before["bucket"] - 2,
        "authorization": before["authorization"] - 2,
    }
    assert store.get_org(acme.id) is None
    assert all(store.get_bucket(b.id) is None for b in buckets["acme"])
    assert store.get_bucket(buckets["globex"][0].id) is not None
    for (org_name, _), a in auths.items():
        assert (store.get_authorization(a.id) is None) == (org_name == "acme"), a
    # users and their sessions do not belong to an org
    assert store.get_user(alice.id) is not None and store.get_user(bob.id) is not None
    assert before["session"] == raw_counts(store_location)["session"] == 4


def test_delete_user_cascades(
    store: Store, store_location: dict[str, str], populated
) -> None:
    acme, globex, alice, bob, buckets, auths, sessions = populated
    before = raw_counts(store_location)
    with store.write():
        store.delete_user(alice.id)
    assert raw_counts(store_location) == {
        **before,
        "user": before["user"] - 1,
        "authorization": before["authorization"] - 2,
        "session": before["session"] - 2,
    }
    assert store.get_user(alice.id) is None
    for (_, user_name), a in auths.items():
        assert (store.get_authorization(a.id) is None) == (user_name == "alice"), a
    for s in sessions["alice"]:
        assert store.session_record(f"{s.id:f>64}") is None
    for s in sessions["bob"]:
        assert store.session_record(f"{s.id:f>64}").user_id == bob.id
    assert store.get_org(acme.id) is not None and store.get_org(globex.id) is not None
    assert len(store.list_buckets(Page("", 10))) == 3


def test_failed_cascade_leaves_everything(
    store: Store, store_location: dict[str, str], populated
) -> None:
    acme = populated[0]
    before = raw_counts(store_location)
    with pytest.raises(RuntimeError), store.write():
        store.delete_org(acme.id)
        raise RuntimeError("abort")
    assert raw_counts(store_location) == before


# -- queries -----------------------------------------------------------------------


def test_list_pages_by_id(store: Store) -> None:
    with store.write():
        users = [store.create_user(user(f"u{i}"), None) for i in range(7)]
    ids = sorted(u.id for u in users)
    seen, after = [], ""
    while True:
        page = store.list_users(Page(after, 3))
        seen += [u.id for u in page]
        if len(page) < 3:
            break
        after = page[-1].id
    assert seen == ids
    assert [u.name for u in store.list_users(Page("", 10), name="u4")] == ["u4"]


def test_user_permissions_only_active_unexpired(store: Store) -> None:
    acme = org("acme")
    alice = user("alice")
    with store.write():
        store.create_org(acme)
        store.create_user(alice, None)
    p = [Permission(Action.READ, ResourceType.BUCKETS, acme.id, f"{i:016x}") for i in range(1, 5)]
    later = T0 + timedelta(minutes=5)
    add_auth(store, auth(acme, alice, p[1], created=later))
    add_auth(store, auth(acme, alice, p[0], created=T0, expire=T0 + timedelta(hours=2)))
    add_auth(store, auth(acme, alice, p[2], status=Status.INACTIVE))
    add_auth(store, auth(acme, alice, p[3], expire=T0 + timedelta(minutes=30)))

    permissions, soonest = store.user_permissions(alice.id, T0 + timedelta(hours=1))
    assert permissions == (p[0], p[1])  # in create_time order
    assert soonest == (T0 + timedelta(hours=2)).timestamp()
    assert store.user_permissions(alice.id, T0 + timedelta(hours=3)) == ((p[1],), None)


def test_active_instance_writers(store: Store) -> None:
    acme = org("acme")
    alice, bob = user("alice"), user("bob", Status.INACTIVE)
    with store.write():
        store.create_org(acme)
        store.create_user(alice, None)
        store.create_user(bob, None)
    # Whether a token holds write:instance is derived from its permissions.
    writes = Permission(Action.WRITE, ResourceType.INSTANCE)
    op = add_auth(store, auth(acme, alice, writes))
    add_auth(store, auth(acme, alice, writes, status=Status.INACTIVE))
    # An expiring one never counts, even before it expires (issue 9).
    add_auth(store, auth(acme, alice, writes, expire=T0 + timedelta(days=1)))
    add_auth(store, auth(acme, bob, writes))  # inactive owner
    add_auth(store, auth(acme, alice, Permission(Action.READ, ResourceType.INSTANCE)))
    add_auth(store, auth(acme, alice))  # not a writer
    assert store.active_instance_writers() == [(op.id, alice.id, acme.id)]


def test_delete_expired_sessions(store: Store) -> None:
    alice = user("alice")
    with store.write():
        store.create_user(alice, None)
    old = add_session(store, alice, expire=T0)
    live = add_session(store, alice, expire=T0 + timedelta(seconds=1))
    with store.write():
        assert store.delete_expired_sessions(T0) == 1
    assert store.session_record(f"{old.id:f>64}") is None
    assert store.session_record(f"{live.id:f>64}") is not None


def test_concurrent_signin_failures_are_all_counted(store: Store) -> None:
    alice = user("alice")
    with store.write():
        store.create_user(alice, "hash")
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(
            pool.map(
                lambda _: store.record_signin_failure(alice.id, 0, lambda n: n),
                range(40),
            )
        )
    assert sorted(counts) == list(range(1, 41))
    assert store.signin_state(alice.id) == (40, 40.0)



# -- opening -----------------------------------------------------------------------


def test_open_without_create_accepts_an_authzd_database(store_location: dict[str, str]) -> None:
    first = open_at(store_location)
    acme = org("acme")
    with first.write():
        first.create_org(acme)
    first.close()
    again = open_at(store_location, create=False)
    try:
        assert again.get_org(acme.id) == acme
    finally:
        again.close()


# What recovery must never do to a SQLite file that is not ours: files are SQLite's alone.


def test_open_without_create_refuses_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(NoDatabase):
        open_store(path, create=False)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_open_without_create_refuses_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(str(path))
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes (body) VALUES ('keep me')")
    con.commit()
    con.close()
    content = path.read_bytes()

    with pytest.raises(NoDatabase):
        open_store(path, create=False)
    # Someone else's database is left exactly as it was (not switched to WAL,
    # no tables added).
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_open_without_create_refuses_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(NoDatabase):
        open_store(path, create=False)
    assert path.read_bytes() == b""


@pytest.mark.parametrize("create", [True, False])
def test_open_refuses_a_file_that_is_not_sqlite(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "notes.txt"
    content = b"this is not a database\n" * 100
    path.write_bytes(content)
    with pytest.raises(NoDatabase):
        open_store(path, create=create)
    assert path.read_bytes() == content


# -- text and values: the same on every backend ------------------------------------


def test_names_compare_exactly(store: Store) -> None:
    """No case folding, trimming or normalisation on either backend: each of these
    is a name of its own, found only by itself."""
    names = ["acme", "Acme", "ACME", "acme ", " acme", "ａｃｍｅ", "caf\u00e9", "cafe\u0301"]
    with store.write():
        orgs = {n: store.create_org(org(n)) for n in names}
        users = {n: store.create_user(user(n), None) for n in names}
    for n in names:
        assert store.get_org_by_name(n) == orgs[n]
        assert store.get_user_by_name(n) == users[n]
        assert [o.id for o in store.list_orgs(Page("", 100), name=n)] == [orgs[n].id]
    assert store.get_org_by_name("aCmE") is None


def test_lookup_by_a_name_with_nul_finds_nothing(store: Store) -> None:
    """PostgreSQL text cannot hold NUL and no stored name has one: a lookup by
    such a name (a caller's filter, a sign-in) is "none", not a driver error."""
    acme, alice = org("acme"), user("alice")
    with store.write():
        store.create_org(acme)
        store.create_user(alice, None)
        store.create_bucket(bucket(acme, "telemetry"))
    for name in ("\x00", "acme\x00", "alice\x00", "telemetry\x00x"):
        assert store.get_org_by_name(name) is None
        assert store.get_user_by_name(name) is None
        assert store.list_orgs(Page("", 10), name=name) == []
        assert store.list_users(Page("", 10), name=name) == []
        assert store.list_buckets(Page("", 10), name=name) == []
        assert store.list_buckets(Page("", 10), org_id=acme.id, name=name) == []


def test_text_and_times_round_trip(store: Store) -> None:
    """The longest name (in 4-byte characters), a description with what SQL and
    format strings treat specially, and the far future, come back as they went in."""
    name = "💥" * 256
    description = "tab\there 'quote' \"double\" back\\slash %s %% ; -- /* */ " + "é" * 900
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    o = Organization(new_id(), name, description, T0, far)
    u = user("ü" * 256)
    with store.write():
        store.create_org(o)
        store.create_user(u, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
    a = add_auth(store, auth(o, u, expire=far))
    assert store.get_org(o.id) == o
    assert store.get_org_by_name(name) == o
    assert store.get_user(u.id) == dataclasses.replace(u, has_password=True)
    assert store.password_hash(u.id) == "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
    got = store.get_authorization(a.id)
    assert got is not None and got.expire_time == far and got.org_name == name


def test_concurrent_writers_each_bump_the_revision_once(store: Store) -> None:
    """Writers from many threads serialise on the revision row: none is lost,
    none fails."""
    start = store.revision()

    def create(i: int) -> None:
        with store.write():
            store.create_user(user(f"w{i}"), None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(40)))
    assert store.revision() == start + 40
    assert store.counts()["users"] == 40


# -- PostgreSQL alone ----------------------------------------------------------------


def test_unreachable_postgres_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        open_store(None, "postgresql://postgres@127.0.0.1:1/authzd?connect_timeout=2")


def test_open_without_create_refuses_an_empty_postgres_database(empty_pg_url: str) -> None:
    location = {"database_url": empty_pg_url}
    with pytest.raises(NoDatabase):
        open_at(location, create=False)
    # Left as it was: recovery creates nothing in a database that is not ours.
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    assert raw_query(location, tables) == []


# Runs open_store in a process of its own once told to start (a line on stdin),
# and prints which migrations that open applied.
_FIRST_START = textwrap.dedent(
    """
    import json, sys
    from service.store import migrations, open_store

    applied = []
    real_migrate = migrations.migrate

    def spy(db):
        applied.extend(real_migrate(db))
        return applied

    migrations.migrate = spy
    print("ready", flush=True)
    sys.stdin.readline()
    store = open_store(None, sys.argv[1])
    print(json.dumps({"applied": applied, "revision": store.revision()}), flush=True)
    store.close()
    """
)


def test_replicas_starting_at_once_migrate_an_empty_database_once(empty_pg_url: str) -> None:
    """Issue 6: replicas starting together on an empty database do not race. The
    advisory lock lets one migrate; the others wait, then find nothing to do."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_START, empty_pg_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for p in procs:  # every one imported and waiting: the opens start together
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outcomes = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    results = []
    for p, (out, err) in zip(procs, outcomes, strict=True):
        assert p.returncode == 0, err
        results.append(json.loads(out))
    latest = [v for v, _ in migrations.MIGRATIONS]
    assert sorted(r["applied"] for r in results) == [[], [], latest]
    assert all(r["revision"] == 0 for r in results)
    location = {"database_url": empty_pg_url}
    assert raw_query(
        location, "SELECT version, COUNT(*) FROM schema_migration GROUP BY version ORDER BY 1"
    ) == [(v, 1) for v in latest]
    assert raw_query(location, "SELECT id, value FROM revision") == [(1, 0)]


def _notifications(conn, wait: float) -> list[str]:  # type: ignore[no-untyped-def]
    """Channels of the notifications that arrive on conn within `wait` seconds
    (returns at the first batch)."""
    if select.select([conn], [], [], wait) == ([], [], []):
        return []
    conn.poll()
    channels = [n.channel for n in conn.notifies]
    conn.notifies.clear()
    return channels


@postgresql_only
def test_a_write_notifies_listeners_when_it_commits(
    store: Store, store_location: dict[str, str]
) -> None:
    """Every write transaction sends NOTIFY authzd_changes, delivered on commit
    (never before, never for a rollback), which is what wakes other replicas."""
    listener = raw_connection(store_location)
    try:
        listener.cursor().execute(f"LISTEN {notify.CHANNEL}")
        with store.write():
            store.create_org(org("acme"))
            assert _notifications(listener, 0.2) == []  # not before the commit
        assert _notifications(listener, 5.0) == [notify.CHANNEL]

        with pytest.raises(RuntimeError), store.write():
            store.create_org(org("globex"))
            raise RuntimeError("abort")
        assert _notifications(listener, 0.3) == []
    finally:
        listener.close()


@postgresql_only
def test_the_store_reconnects_after_postgres_drops_its_connections(
    store: Store, store_location: dict[str, str]
) -> None:
    """A restarted server or a terminated backend: the next read and write work
    again on a new connection, without the caller retrying."""
    acme = org("acme")
    with store.write():
        store.create_org(acme)
    start = store.revision()

    def terminate_others() -> int:
        rows = raw_query(
            store_location,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        return len(rows)

    assert terminate_others() >= 1
    assert store.get_org(acme.id) == acme
    assert terminate_others() >= 1
    with store.write():
        store.create_org(org("globex"))
    assert store.revision() == start + 1
    assert store.counts()["organizations"] == 2


@postgresql_only
def test_a_transaction_broken_by_an_error_is_rolled_back(store: Store) -> None:
    """On PostgreSQL an error aborts the whole transaction unless it was inside
    a savepoint; the store's writes leave no half-done state either way."""
    acme = org("acme")
    with store.write():
        store.create_org(acme)
    start = store.revision()
    with pytest.raises(IntegrityError), store.write():
        store.create_user(user("alice"), None)
        store.create_session(Session(new_id(), user("ghost").id, T0, T0), "f" * 64)
    assert store.revision() == start
    assert store.get_user_by_name("alice") is None
    with store.write():  # the connection is usable again
        store.create_user(user("alice"), None)
    assert store.revision() == start + 1
