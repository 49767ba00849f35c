"""No "database is locked" (issue 5, "Crashes and concurrency").

CLIENTS clients, each on its own channel, mix reads, writes and checks against
one server for DURATION seconds. None may see an error (UNAVAILABLE, a store
lock, anything), and every answer must agree with what that client wrote
before: a client owns its authorizations, so after each acknowledged write its
next check, get and batch check must show it (the writing process sees its own
writes at once), and at the end the store holds exactly the union of what the
clients left behind. Runs on every backend of the `running` fixture, and once
more with two `authzd serve` processes sharing one SQLite file.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    bucket_service_pb2,
    setup_service_pb2,
    types_pb2,
)
from google.protobuf import field_mask_pb2

from tests.conftest import Admin, Client, Running, md
from tests.serving import ServeProcess

CLIENTS = 32
DURATION = 6.0
TWO_PROCESS_DURATION = 4.0
CALL_TIMEOUT = 30.0

ACTIVE, INACTIVE = types_pb2.STATUS_ACTIVE, types_pb2.STATUS_INACTIVE
ALLOWED = access_service_pb2.DECISION_REASON_ALLOWED
INACTIVE_REASON = access_service_pb2.DECISION_REASON_TOKEN_INACTIVE
UNKNOWN = access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN


@dataclass
class Owned:
    id: str
    token: str
    permission: types_pb2.Permission
    status: int = ACTIVE
    description: str = ""
    deleted: bool = False


@dataclass
class Tally:
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self) -> int:
        return sum(self.ops[op] for op in ("create", "update", "delete", "bucket"))


class Worker:
    def __init__(self, n: int, target: str, admin: Admin, tally: Tally) -> None:
        self.n = n
        self.rng = random.Random(n)
        self.client = Client.connect(target)
        self.admin = admin
        self.auth = md(admin.token)
        self.tally = tally
        self.owned: list[Owned] = []
        self.serial = 0

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            with self.tally.lock:
                self.tally.wrong.append(f"client {self.n}: {what}")

    def _permission(self) -> types_pb2.Permission:
        action = self.rng.choice((types_pb2.ACTION_READ, types_pb2.ACTION_WRITE))
        return types_pb2.Permission(action=action, resource=types_pb2.Resource(
            type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=self.admin.org_id,
            id=self.admin.bucket_id))

    # -- checks ------------------------------------------------------------

    def _want(self, o: Owned) -> tuple[bool, int]:
        if o.deleted:
            return False, UNKNOWN
        return (True, ALLOWED) if o.status == ACTIVE else (False, INACTIVE_REASON)

    def check(self, o: Owned) -> None:
        r = self.client.access.CheckAccess(access_service_pb2.CheckAccessRequest(
            token=o.token, permission=o.permission), timeout=CALL_TIMEOUT)
        self.expect((r.allowed, r.reason) == self._want(o), f"check {o}: {r}")

    def batch(self) -> None:
        sample = self.rng.sample(self.owned, min(len(self.owned), 50))
        resp = self.client.access.BatchCheckAccess(access_service_pb2.BatchCheckAccessRequest(
            checks=[access_service_pb2.CheckAccessRequest(token=o.token, permission=o.permission)
                    for o in sample]), timeout=CALL_TIMEOUT)
        for o, r in zip(sample, resp.results, strict=True):
            self.expect((r.allowed, r.reason) == self._want(o), f"batch {o}: {r}")

    # -- reads -------------------------------------------------------------

    def get(self, o: Owned) -> None:
        try:
            a = self.client.auths.GetAuthorization(
                authorization_service_pb2.GetAuthorizationRequest(id=o.id),
                metadata=self.auth, timeout=CALL_TIMEOUT).authorization
        except grpc.RpcError as err:
            if o.deleted and err.code() == grpc.StatusCode.NOT_FOUND:
                return
            raise
        self.expect(not o.deleted and a.status == o.status
                    and a.description == o.description
                    and list(a.permissions)[0].resource.id == o.permission.resource.id,
                    f"get {o}: {a}")

    def list(self) -> None:
        resp = self.client.auths.ListAuthorizations(
            authorization_service_pb2.ListAuthorizationsRequest(
                org_id=self.admin.org_id, page_size=self.rng.choice((1, 10, 100))),
            metadata=self.auth, timeout=CALL_TIMEOUT)
        ids = [a.id for a in resp.authorizations]
        self.expect(ids == sorted(ids) and len(ids) == len(set(ids)), f"list order {ids}")

    # -- writes ------------------------------------------------------------

    def create(self) -> None:
        self.serial += 1
        permission = self._permission()
        description = f"c{self.n}-{self.serial}"
        resp = self.client.auths.CreateAuthorization(
            authorization_service_pb2.CreateAuthorizationRequest(
                org_id=self.admin.org_id, description=description, permissions=[permission]),
            metadata=self.auth, timeout=CALL_TIMEOUT)
        o = Owned(resp.authorization.id, resp.token, permission, description=description)
        self.owned.append(o)
        self.check(o)

    def update(self, o: Owned) -> None:
        status = INACTIVE if o.status == ACTIVE else ACTIVE
        description = f"{o.description.split('/')[0]}/{self.serial}"
        self.serial += 1
        a = self.client.auths.UpdateAuthorization(
            authorization_service_pb2.UpdateAuthorizationRequest(
                authorization=types_pb2.Authorization(
                    id=o.id, status=status, description=description),  # type: ignore[arg-type]
                update_mask=field_mask_pb2.FieldMask(paths=["status", "description"])),
            metadata=self.auth, timeout=CALL_TIMEOUT).authorization
        o.status, o.description = status, description
        self.expect(a.status == status and a.description == description, f"update {o}: {a}")
        self.check(o)

    def delete(self, o: Owned) -> None:
        self.client.auths.DeleteAuthorization(
            authorization_service_pb2.DeleteAuthorizationRequest(id=o.id),
            metadata=self.auth, timeout=CALL_TIMEOUT)
        o.deleted = True
        self.check(o)

    def bucket(self) -> None:
        """A write on another table: create a bucket, then delete it."""
        self.serial += 1
        b = self.client.buckets.CreateBucket(bucket_service_pb2.CreateBucketRequest(
            org_id=self.admin.org_id, name=f"b{self.n}-{self.serial}"),
            metadata=self.auth, timeout=CALL_TIMEOUT).bucket
        self.client.buckets.DeleteBucket(bucket_service_pb2.DeleteBucketRequest(id=b.id),
                                         metadata=self.auth, timeout=CALL_TIMEOUT)

    # -- the loop ----------------------------------------------------------

    def step(self) -> str:
        live = [o for o in self.owned if not o.deleted]
        r = self.rng.random()
        if len(live) < 2 or r < 0.18:
            self.create()
            return "create"
        if r < 0.30:
            self.update(self.rng.choice(live))
            return "update"
        if r < 0.36:
            self.delete(self.rng.choice(live))
            return "delete"
        if r < 0.38:
            self.bucket()
            return "bucket"
        if r < 0.68:
            self.check(self.rng.choice(self.owned))
            return "check"
        if r < 0.78:
            self.batch()
            return "batch"
        if r < 0.93:
            self.get(self.rng.choice(self.owned))
            return "get"
        self.list()
        return "list"

    def run(self, until: float) -> None:
        try:
            while time.monotonic() < until:
                try:
                    op = self.step()
                except grpc.RpcError as err:
                    with self.tally.lock:
                        self.tally.errors.append(
                            f"client {self.n}: {err.code().name}: {err.details()}")
                    continue
                with self.tally.lock:
                    self.tally.ops[op] += 1
        finally:
            self.client.channel.close()


def _all_authorizations(client: Client, token: str) -> dict[str, types_pb2.Authorization]:
    out, page = {}, ""
    while True:
        resp = client.auths.ListAuthorizations(
            authorization_service_pb2.ListAuthorizationsRequest(page_size=1000, page_token=page),
            metadata=md(token))
        out.update({a.id: a for a in resp.authorizations})
        page = resp.next_page_token
        if not page:
            return out


def _hammer(targets: list[str], admin: Admin, duration: float) -> tuple[list[Worker], Tally]:
    """CLIENTS workers spread over the targets, for `duration` seconds; fails on
    any error or wrong answer."""
    tally = Tally()
    workers = [Worker(n, targets[n % len(targets)], admin, tally) for n in range(CLIENTS)]
    until = time.monotonic() + duration
    threads = [threading.Thread(target=w.run, args=(until,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)
    assert not any(t.is_alive() for t in threads), "a client hung"

    codes = Counter(e.split(": ")[1] for e in tally.errors)
    locked = [e for e in tally.errors if "lock" in e.lower() or "busy" in e.lower()]
    assert not tally.errors, f"{codes}; store locks: {len(locked)}; first: {tally.errors[:5]}"
    assert not tally.wrong, tally.wrong[:5]
    assert tally.writes() >= CLIENTS and sum(tally.ops.values()) >= 4 * CLIENTS, tally.ops
    return workers, tally


def _holds_exactly(client: Client, admin: Admin, workers: list[Worker]) -> None:
    """The store holds exactly what the clients left behind."""
    stored = _all_authorizations(client, admin.token)
    expected = {o.id: o for w in workers for o in w.owned if not o.deleted}
    assert set(stored) == set(expected) | {admin.authorization_id}
    for auth_id, o in expected.items():
        a = stored[auth_id]
        assert (a.status, a.description) == (o.status, o.description), (o, a)


def test_many_clients_mixing_reads_writes_and_checks_see_no_lock_errors(
    running: Running, admin: Admin
) -> None:
    workers, tally = _hammer([running.target], admin, DURATION)
    _holds_exactly(running.client, admin, workers)
    print(f"\n{running.backend}: {CLIENTS} clients, {DURATION}s, {sum(tally.ops.values())} "
          f"operations ({tally.writes()} writes): {dict(tally.ops)}")


def test_two_server_processes_on_one_sqlite_file_see_no_lock_errors(tmp_path: Path) -> None:
    """As `authzd serve --workers 2` runs: two processes, one SQLite file, so
    writers wait on each other through SQLite's own locks, not a Python one.
    Each client talks to one of them (and so reads its own writes at once)."""
    db = tmp_path / "authzd.db"
    servers = [ServeProcess.start(["--db", str(db)], log=tmp_path / f"serve-{i}.log", http="off")
               for i in range(2)]
    client = servers[0].client()
    try:
        r = client.setup.Setup(setup_service_pb2.SetupRequest(
            username="admin", password="admin-password-1", org="acme", bucket="b"))
        admin = Admin(r.token, r.user.id, r.organization.id, r.bucket.id, r.authorization.id)
        workers, tally = _hammer([s.target for s in servers], admin, TWO_PROCESS_DURATION)
        _holds_exactly(client, admin, workers)
        print(f"\n2 processes: {CLIENTS} clients, {TWO_PROCESS_DURATION}s, "
              f"{sum(tally.ops.values())} operations ({tally.writes()} writes)")
    finally:
        client.channel.close()
        for server in servers:
            server.kill()
