"""The store on a real SQLite file in tmp_path (STYLE: tests/store): migrations,
pragmas, the revision signal, constraints, cascades, opening rules."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peewee import IntegrityError

from service.domain.errors import AlreadyExists
from service.domain.models import Authorization, Bucket, Organization, Session, Status, User
from service.domain.permissions import Action, Permission, ResourceType
from service.store import Store, migrations, open_store
from service.store.database import NoDatabase, Page, to_micros

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


def add_auth(store: Store, a: Authorization, instance_writer: bool = False) -> Authorization:
    with store.write():
        return store.create_authorization(a, f"{a.id:0>64}", instance_writer)


def add_session(store: Store, u: User, expire: datetime = T0 + timedelta(hours=1)) -> Session:
    s = Session(new_id(), u.id, T0, expire)
    with store.write():
        store.create_session(s, f"{s.id:f>64}")
    return s


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that bypasses the store."""
    return sqlite3.connect(str(path))


def raw_counts(path: Path) -> dict[str, int]:
    con = raw(path)
    try:
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in TABLES}
    finally:
        con.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "authzd.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = open_store(db_path)
    try:
        yield s
    finally:
        s.close()


# -- migrations ------------------------------------------------------------------


def test_migrations_are_recorded(store: Store, db_path: Path) -> None:
    con = raw(db_path)
    try:
        versions = [
            r[0] for r in con.execute("SELECT version FROM schema_migration ORDER BY version")
        ]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        revision = con.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0]
    finally:
        con.close()
    assert versions == [v for v, _ in migrations.MIGRATIONS]
    assert versions[-1] == migrations.LATEST
    assert {*TABLES, "revision", "schema_migration"} <= tables
    assert revision == 0


def test_reopen_is_idempotent(db_path: Path) -> None:
    first = open_store(db_path)
    o = org("acme")
    with first.write():
        first.create_org(o)
    revision = first.revision()
    first.close()

    def recorded() -> list[tuple[int, int]]:
        con = raw(db_path)
        try:
            return list(
                con.execute("SELECT version, applied_at FROM schema_migration ORDER BY version")
            )
        finally:
            con.close()

    before = recorded()
    for _ in range(2):
        again = open_store(db_path)
        try:
            assert migrations.migrate(again.db) == []  # nothing left to apply
            assert again.get_org(o.id) == o
            assert again.revision() == revision
        finally:
            again.close()
    assert recorded() == before  # not re-applied, not re-stamped


def test_sqlite_pragmas(store: Store, db_path: Path) -> None:
    def pragma(name: str) -> object:
        return store.db.execute_sql(f"PRAGMA {name}").fetchone()[0]

    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 10_000
    assert pragma("synchronous") == 2  # FULL
    # WAL is a property of the file: another connection sees it too.
    con = raw(db_path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_foreign_keys_are_enforced(store: Store) -> None:
    ghost = user("ghost")  # never stored
    with pytest.raises(IntegrityError), store.write():
        store.create_session(Session(new_id(), ghost.id, T0, T0), "f" * 64)
    o = org("acme")
    with store.write():
        store.create_org(o)
    with pytest.raises(IntegrityError), store.write():
        store.create_authorization(auth(o, ghost), "e" * 64, False)
    assert store.counts()["authorizations"] == 0


# -- the revision signal -------------------------------------------------------


def test_revision_bumps_on_every_write(store: Store, db_path: Path) -> None:
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
    con = raw(db_path)
    try:
        assert con.execute("SELECT value FROM revision").fetchone()[0] == start + 4
    finally:
        con.close()


def test_failed_write_rolls_back_with_its_revision(store: Store) -> None:
    start = store.revision()
    o = org("acme")
    with pytest.raises(RuntimeError), store.write():
        store.create_org(o)
        raise RuntimeError("boom")
    assert store.revision() == start
    assert store.get_org(o.id) is None


def test_bookkeeping_does_not_bump_revision(store: Store) -> None:
    o, u = org("acme"), user("alice")
    with store.write():
        store.create_org(o)
        store.create_user(u, "hash")
    a = add_auth(store, auth(o, u))
    start = store.revision()
    store.touch_last_used({a.id: to_micros(T0)})
    assert store.get_authorization(a.id).last_used_time == T0
    store.record_signin_failure(u.id, to_micros(T0), lambda n: 0)
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
    assert store.counts() == {"organizations": 2, "users": 2, "buckets": 0, "authorizations": 0}


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


def test_delete_org_cascades(store: Store, db_path: Path, populated) -> None:
    acme, globex, alice, bob, buckets, auths, sessions = populated
    before = raw_counts(db_path)
    with store.write():
        store.delete_org(acme.id)
    assert raw_counts(db_path) == {
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
    assert before["session"] == raw_counts(db_path)["session"] == 4


def test_delete_user_cascades(store: Store, db_path: Path, populated) -> None:
    acme, globex, alice, bob, buckets, auths, sessions = populated
    before = raw_counts(db_path)
    with store.write():
        store.delete_user(alice.id)
    assert raw_counts(db_path) == {
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


def test_failed_cascade_leaves_everything(store: Store, db_path: Path, populated) -> None:
    acme = populated[0]
    before = raw_counts(db_path)
    with pytest.raises(RuntimeError), store.write():
        store.delete_org(acme.id)
        raise RuntimeError("abort")
    assert raw_counts(db_path) == before


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

    texts, soonest = store.user_permissions(alice.id, T0 + timedelta(hours=1))
    assert texts.split("\n") == [str(p[0]), str(p[1])]  # in create_time order
    assert soonest == to_micros(T0 + timedelta(hours=2))
    assert store.user_permissions(alice.id, T0 + timedelta(hours=3)) == (str(p[1]), None)


def test_active_instance_writers(store: Store) -> None:
    acme = org("acme")
    alice, bob = user("alice"), user("bob", Status.INACTIVE)
    with store.write():
        store.create_org(acme)
        store.create_user(alice, None)
        store.create_user(bob, None)
    op = add_auth(store, auth(acme, alice), instance_writer=True)
    add_auth(store, auth(acme, alice, status=Status.INACTIVE), instance_writer=True)
    add_auth(store, auth(acme, alice, expire=T0 + timedelta(minutes=1)), instance_writer=True)
    add_auth(store, auth(acme, bob), instance_writer=True)  # inactive owner
    add_auth(store, auth(acme, alice))  # not a writer
    assert store.active_instance_writers(T0 + timedelta(minutes=2)) == [(op.id, alice.id, acme.id)]


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
                lambda _: store.record_signin_failure(alice.id, 0, lambda n: n * 1_000_000),
                range(40),
            )
        )
    assert sorted(counts) == list(range(1, 41))
    assert store.signin_state(alice.id) == (40, 40_000_000)


def test_integrity_ok(store: Store, populated) -> None:
    assert store.integrity_ok() is True


# -- opening -----------------------------------------------------------------------


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


def test_open_without_create_accepts_an_authzd_database(db_path: Path) -> None:
    first = open_store(db_path)
    acme = org("acme")
    with first.write():
        first.create_org(acme)
    first.close()
    again = open_store(db_path, create=False)
    try:
        assert again.get_org(acme.id) == acme
    finally:
        again.close()
