"""`authzd recovery`: on the database, no token; what it mints drives the running server.
On each backend: `--db FILE` / AUTHZD_DB, or `--database-url` / AUTHZD_DATABASE_URL."""

from __future__ import annotations

import json
import time
from pathlib import Path

from authzd.v1 import session_service_pb2

from tests.cli.conftest import Cli, token_in
from tests.conftest import Admin, Running, raw_query


def test_lost_token_recovered_with_create_operator(cli: Cli, running: Running) -> None:
    cli("setup", "--username", "admin", "--password", "admin-password-1", "--org", "acme",
        "--bucket", "telemetry")
    # The operator loses the config file, and with it the only token.
    cli.config_path.unlink()
    assert "no token" in cli("auth", "list", ok=False).error

    db = running.store_args
    r = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", "admin", *db)
    token = token_in(r.stdout)
    assert "will not be shown again" in r.stdout
    # The running server takes it at once.
    listed = cli("auth", "list", "--json", "--token", token).json()
    assert sorted(a["description"] for a in listed) == ["admin's Token", "admin's recovery Token"]
    assert all(len(a["permissions"]) == 46 for a in listed)

    # --save puts it in the config file so later commands need no flags.
    saved = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", "admin",
                "--description", "saved", "--save", "--json", *db).json()
    assert json.loads(cli.config_path.read_text())["token"] == saved["token"]
    assert len(cli("auth", "list", "--json").json()) == 3

    # The database's view, without a server.
    rows = cli("recovery", "auth", "list", "--json", *db).json()
    assert {a["id"] for a in rows} == {a["id"] for a in cli("auth", "list", "--json").json()}
    assert "admin's recovery Token" in cli("recovery", "auth", "list", *db).stdout


def test_create_operator_names_what_is_missing(cli: Cli, running: Running, admin: Admin) -> None:
    db = running.store_args
    r = cli("recovery", "auth", "create-operator", "--org", "nope", "--username", "admin", *db,
            ok=False)
    assert r.error == ("error: organization 'nope' not found — see `authzd recovery org list`")
    r = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", "nobody",
            *db, ok=False)
    assert r.error.startswith("error: user 'nobody' not found")
    cli("recovery", "user", "create", "--username", "idle", *db)
    cli("recovery", "user", "update", "--username", "idle", "--status", "inactive", *db)
    r = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", "idle", *db,
            ok=False)
    assert "inactive" in r.error and "--status active" in r.error


def test_recovery_users_and_orgs_reach_the_running_server(
    cli: Cli, running: Running, admin: Admin
) -> None:
    env = running.store_env  # the default store comes from the environment
    made = cli("recovery", "user", "create", "--username", "rescuer", "--password",
               "rescue-password-1", "--json", env=env).json()
    assert made["has_password"] is True
    users = cli("recovery", "user", "list", "--json", env=env).json()
    assert sorted(u["name"] for u in users) == ["admin", "rescuer"]
    # The password was hashed with argon2 and the server accepts it.
    signed = running.client.sessions.SignIn(session_service_pb2.SignInRequest(
        username="rescuer", password="rescue-password-1"))
    assert signed.session_token.startswith("azs_")
    cli("recovery", "user", "update", "--username", "admin", "--password", "new-password-9",
        env=env)
    running.client.sessions.SignIn(session_service_pb2.SignInRequest(
        username="admin", password="new-password-9"))

    org = cli("recovery", "org", "create", "--name", "rescue", "--json", env=env).json()
    assert org["name"] == "rescue"
    assert "rescue" in cli("recovery", "org", "list", env=env).stdout
    assert "rescue" in cli("org", "list", "--token", admin.token).stdout

    # A change to a token the server has cached: it sees the revision move.
    bucket_token = cli("auth", "create", "--token", admin.token, "--org", "acme", "--user",
                       "rescuer", "--read-bucket", admin.bucket_id, "--json").json()["token"]
    want = f"read:orgs/{admin.org_id}/buckets/{admin.bucket_id}"
    check = ("check", "--token", bucket_token, "--permission", want, "--json")
    assert cli(*check).json()["allowed"] is True
    cli("recovery", "user", "update", "--username", "rescuer", "--status", "inactive", env=env)
    deadline = time.monotonic() + 3
    while (reason := cli(*check).json()["reason"]) != "USER_INACTIVE":
        assert time.monotonic() < deadline, reason
        time.sleep(0.1)


def test_recovery_refuses_what_is_not_an_authzd_database(bare_cli: Cli, tmp_path: Path) -> None:
    """SQLite files: what recovery must not take for (or turn into) a database."""
    cli = bare_cli
    missing = tmp_path / "missing.db"
    r = cli("recovery", "auth", "list", "--db", str(missing), ok=False)
    assert r.error.startswith(f"error: {missing} does not exist")
    assert "--db PATH" in r.error
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    empty.touch()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for path in (empty, text):
        r = cli("recovery", "user", "list", "--db", str(path), ok=False)
        assert r.error.startswith(f"error: {path} holds no authzd database")
    assert empty.stat().st_size == 0  # left as it was
    assert text.read_text() == "not a database\n"

    # A SQLite database of someone else's.
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table t (x)")
    conn.close()
    r = cli("recovery", "org", "list", "--db", str(other), ok=False)
    assert r.error.startswith(f"error: {other} holds no authzd database")

    # The default is authzd.db in the working directory: absent here.
    r = cli("recovery", "auth", "list", ok=False)
    assert r.error.startswith("error: authzd.db does not exist")


def test_recovery_refuses_an_empty_postgres_database(bare_cli: Cli, empty_pg_url: str) -> None:
    """A database without authzd's schema is not taken for one, nor given one."""
    env = {"AUTHZD_DATABASE_URL": empty_pg_url}
    for args in (("org", "list"), ("auth", "list"), ("user", "create", "--username", "x")):
        r = bare_cli("recovery", *args, env=env, ok=False)
        assert "holds no authzd database" in r.error
    r = bare_cli("recovery", "user", "list", "--database-url", empty_pg_url, ok=False)
    assert "holds no authzd database" in r.error
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    assert raw_query({"database_url": empty_pg_url}, tables) == []


def test_serve_recovery_and_backup_pick_the_database_by_one_rule(
    tmp_path: Path, bare_cli: Cli
) -> None:
    """settings.database_location for the three: both flags are refused in one
    line; a --db flag beats AUTHZD_DATABASE_URL (the URL's password is never
    shown)."""
    both = ["--db", "a.db", "--database-url", "postgresql://u:s3cret@127.0.0.1:9/d"]
    for command in (["serve"], ["recovery", "user", "list"],
                    ["backup", "--out", str(tmp_path / "o")]):
        r = bare_cli(*command, *both, ok=False)
        assert r.returncode != 0 and "s3cret" not in r.stderr, r.stderr
        assert r.stderr.strip().splitlines()[-1] in (
            "error: --db and --database-url name two databases: give one",
            # backup's two flags are one argparse group: argparse says it.
            "error: argument --database-url: not allowed with argument --db "
            "(see `authzd backup --help`)",
        ), r.stderr
    env = {"AUTHZD_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:9/d"}
    missing = tmp_path / "missing.db"
    r = bare_cli("recovery", "user", "list", "--db", str(missing), env=env, ok=False)
    assert r.stderr.startswith(f"error: {missing} "), r.stderr
    assert "s3cret" not in r.stderr
