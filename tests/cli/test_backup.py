"""`authzd backup` (issue 5 "Done when", issue 6): an online copy taken while the
server runs and writes, that passes integrity_check (SQLite) or restores (pg_dump
SQL on PostgreSQL), and that, served, answers the same tokens."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from authzd.v1 import (
    access_service_pb2,
    access_service_pb2_grpc,
    authorization_service_pb2,
    types_pb2,
)

from service.settings import split_password
from tests.cli.conftest import Cli
from tests.conftest import PG_ADMIN_URL, Admin, Client, Running, md
from tests.helpers import store_flags
from tests.serving import ServeProcess

ALLOWED = access_service_pb2.DECISION_REASON_ALLOWED
UNKNOWN = access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN


def _bucket_perm(admin: Admin, action: int = types_pb2.ACTION_READ) -> types_pb2.Permission:
    return types_pb2.Permission(action=action, resource=types_pb2.Resource(
        type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=admin.org_id, id=admin.bucket_id))


def _new_token(client: Client, admin: Admin, **kwargs: Any) -> str:
    if not kwargs:
        kwargs = {"permissions": [_bucket_perm(admin)]}
    return client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(org_id=admin.org_id, **kwargs),
        metadata=md(admin.token)).token


def _decisions(target: str, tokens: list[str], admin: Admin) -> dict[str, int]:
    """Each token's answer to reading the setup bucket (every token here may)."""
    channel = grpc.insecure_channel(target)
    try:
        stub = access_service_pb2_grpc.AccessServiceStub(channel)
        return {t: stub.CheckAccess(access_service_pb2.CheckAccessRequest(
            token=t, permission=_bucket_perm(admin)), timeout=10).reason for t in tokens}
    finally:
        channel.close()


class Writer:
    """Creates tokens through the running server until stopped; each token is
    stamped with the time its creation was acknowledged."""

    def __init__(self, client: Client, admin: Admin) -> None:
        self.client, self.admin = client, admin
        self.acknowledged: list[tuple[float, str]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                token = _new_token(self.client, self.admin)
            except BaseException as exc:  # noqa: BLE001 (reported by the test)
                self.errors.append(exc)
                return
            self.acknowledged.append((time.monotonic(), token))

    def __enter__(self) -> Writer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while len(self.acknowledged) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acknowledged) >= 5, self.errors
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def before(self, t: float) -> list[str]:
        return [token for at, token in self.acknowledged if at < t]

    def after(self, t: float) -> list[str]:
        return [token for at, token in self.acknowledged if at > t]


def test_backup_taken_while_serving_serves_the_same_tokens(
    running: Running, client: Client, admin: Admin, bare_cli: Cli, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    tokens = [admin.token, _new_token(client, admin),
              _new_token(client, admin, preset=authorization_service_pb2.PRESET_ALL_ACCESS),
              _new_token(client, admin, preset=authorization_service_pb2.PRESET_OPERATOR)]
    backend = running.backend
    out = tmp_path / ("copy.db" if backend == "sqlite" else "copy.sql")
    with Writer(client, admin) as writer:  # the server is writing all along
        started = time.monotonic()
        r = bare_cli("backup", *store_flags(running), "--out", str(out), "--json")
        finished = time.monotonic()
        while not writer.after(finished):  # a write acknowledged after the copy ended
            assert not writer.errors and time.monotonic() < finished + 10, writer.errors
            time.sleep(0.01)
    assert writer.errors == []
    after = [_new_token(client, admin), *writer.after(finished)]
    before = tokens + writer.before(started)
    report = r.json()
    assert (report["backend"], report["out"]) == (backend, str(out))
    assert report["bytes"] == out.stat().st_size > 0
    assert out.stat().st_mode & 0o777 == 0o600  # it holds digests and password hashes
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []

    if backend == "sqlite":
        conn = sqlite3.connect(out)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
            stored = conn.execute('SELECT COUNT(*) FROM "authorization"').fetchone()[0]
        finally:
            conn.close()
        assert not Path(f"{out}-wal").exists()
        assert report["counts"]["authorizations"] == stored >= len(before)
        served = ["--db", str(out)]
    else:
        url = request.getfixturevalue("empty_pg_url")  # restored into
        restore = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                                  "-f", str(out)], capture_output=True, text=True, check=False)
        assert restore.returncode == 0, restore.stderr
        served = ["--database-url", url]

    # The original answers the later tokens: they are real, so UNKNOWN below means "not copied".
    assert set(_decisions(running.target, after, admin).values()) == {ALLOWED}
    server = ServeProcess.start([*served, "--audit-log", "off"], bare_cli.env, tmp_path)
    try:
        assert _decisions(server.target, before, admin) == dict.fromkeys(before, ALLOWED)
        assert _decisions(server.target, after, admin) == dict.fromkeys(after, UNKNOWN)
    finally:
        assert server.stop() == 0


def test_backup_never_overwrites_without_force(
    running: Running, admin: Admin, bare_cli: Cli, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    out = backups / "backup.out"
    out.write_text("yesterday's backup\n")
    audit = tmp_path / "audit.jsonl"
    args = ["backup", *store_flags(running), "--out", str(out), "--audit-log", str(audit)]
    r = bare_cli(*args, ok=False)
    assert r.error == f"error: {out} already exists; pass --force to overwrite it"
    assert out.read_text() == "yesterday's backup\n"

    r = bare_cli(*args, "--force")
    assert "Backed up" in r.stdout
    head = out.read_bytes()[:64]
    if running.backend == "sqlite":
        assert head.startswith(b"SQLite format 3\x00")
    else:
        assert b"PostgreSQL database dump" in head
        assert b"PostgreSQL database dump complete" in out.read_bytes()
    assert [p.name for p in backups.iterdir()] == ["backup.out"]  # no partial file left
    # Taking a copy of every digest and hash is recorded, refused or not.
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["action"], e["outcome"], e["request_id"], e["peer"]) for e in events] == [
        ("backup", "failure", "backup", "local"), ("backup", "success", "backup", "local")]
    assert events[0]["reason"] == "ERROR_REASON_BACKUP_FAILED"
    assert events[1]["out"] == str(out) and events[1]["bytes"] == out.stat().st_size


def test_backup_errors_are_one_line(bare_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out.db"
    not_db = tmp_path / "notes.txt"
    not_db.write_text("not a database\n")
    live = tmp_path / "live.db"
    subprocess.run([sys.executable, "-c", "import sys; from service.store import open_store; "
                    "open_store(sys.argv[1]).close()", str(live)], check=True)
    cases = [
        (["--db", str(tmp_path / "missing.db")], "missing.db does not exist"),
        (["--db", str(not_db)], "holds no authzd database"),
        (["--db", str(live), "--out", str(live)], "is the database itself"),
        (["--db", str(live), "--out", str(tmp_path / "no-dir" / "x.db")], "does not exist; "
         "create it"),
        (["--db", str(live), "--out", str(tmp_path)], "is a directory"),
        (["--db", str(live), "--database-url", "postgresql://x@127.0.0.1/x"],
         "not allowed with argument"),
        (["--database-url", "postgresql://authzd:s3cret-pw@127.0.0.1:1/authzd"],
         "cannot connect to postgresql://authzd:***@127.0.0.1:1/authzd"),
        (["--database-url", PG_ADMIN_URL], "holds no authzd database"),
    ]
    for flags, expected in cases:
        args = flags if "--out" in flags else [*flags, "--out", str(out)]
        r = bare_cli("backup", *args, ok=False)
        assert expected in r.error, (flags, r.error)
        assert "s3cret-pw" not in r.stderr
    # No pg_dump on PATH: said plainly, before anything is written.
    r = bare_cli("backup", "--database-url", PG_ADMIN_URL, "--out", str(out), ok=False,
                 env={"PATH": str(tmp_path / "empty")})
    assert "pg_dump is not on PATH" in r.error
    # Nothing written (SQLite's own -wal/-shm beside the source aside).
    left = {p.name for p in tmp_path.iterdir()} - {"live.db-wal", "live.db-shm"}
    assert left == {"home", "live.db", "notes.txt"}


def test_the_password_goes_to_pg_dump_by_environment_not_argv() -> None:
    assert split_password("postgresql://u:p%40ss@db.example:5433/authzd?sslmode=require") \
        == ("postgresql://u@db.example:5433/authzd?sslmode=require", "p@ss")
    assert split_password("postgresql://u@h/d?password=pw&application_name=a%20b") == (
        "postgresql://u@h/d?application_name=a%20b", "pw")
    assert split_password("postgresql://u@h/d") == ("postgresql://u@h/d", None)
