"""The operator's path through the CLI: setup → tokens → list → deactivate → check."""

from __future__ import annotations

import json
import stat
import time
from datetime import UTC, datetime, timedelta

from tests.cli.conftest import Cli, token_in
from tests.conftest import Running, sqlite_only

# The CLI talks to the server over gRPC; the store behind it is the e2e suites'
# business (on both backends). Recovery, which opens the store itself, runs on both.
pytestmark = sqlite_only

AUTH_KEYS = {
    "id", "description", "status", "user_id", "user", "org_id", "org", "permissions",
    "token_hint", "create_time", "update_time", "expire_time", "last_used_time",
}


def setup(cli: Cli) -> dict[str, str]:
    r = cli("setup", "--username", "admin", "--password", "admin-password-1", "--org", "acme",
            "--bucket", "telemetry")
    assert str(cli.config_path) in r.stdout
    saved = json.loads(cli.config_path.read_text())
    bucket = cli("bucket", "list", "--json").json()[0]
    return {"token": saved["token"], "org_id": bucket["org_id"], "bucket_id": bucket["id"]}


def test_setup_saves_host_and_token_privately(cli: Cli, running: Running) -> None:
    setup(cli)
    mode = stat.S_IMODE(cli.config_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(cli.config_path.parent.stat().st_mode) == 0o700
    saved = json.loads(cli.config_path.read_text())
    assert saved["host"] == running.target
    assert saved["token"].startswith("azt_") and len(saved["token"]) == 53
    assert saved["org"] == "acme"
    # Without the host in the environment, the saved one is used.
    r = cli("org", "list", "--json", env={"AUTHZD_HOST": ""})
    assert [o["name"] for o in r.json()] == ["acme"]
    # A second setup neither overwrites the saved token nor reaches the server.
    again = cli("setup", "--username", "x", "--password", "password-123", "--org", "o",
                "--bucket", "b", ok=False)
    assert "already holds a token" in again.error and "--force" in again.error
    forced = cli("setup", "--username", "x", "--password", "password-123", "--org", "o",
                 "--bucket", "b", "--force", ok=False)
    assert "already set up" in forced.error


def test_token_lifecycle(cli: Cli, running: Running) -> None:
    running.clock.t = time.time()  # --expires-in is computed from the real clock
    ids = setup(cli)
    org, bucket = ids["org_id"], ids["bucket_id"]

    op = cli("auth", "create", "--operator", "--description", "ops")
    operator_token = token_in(op.stdout)
    assert "will not be shown again" in op.stdout
    assert "Operator (46)" in op.stdout and "everything, the instance included" in op.stdout

    all_access = cli("auth", "create", "--all-access", "--json").json()
    assert len(all_access["authorization"]["permissions"]) == 45
    assert f"read:orgs/{org}" in all_access["authorization"]["permissions"]

    rw = cli("auth", "create", "--read-bucket", bucket, "--write-bucket", bucket,
             "--expires-in", "30d", "--description", "telemetry rw", "--json").json()
    assert rw["authorization"]["permissions"] == [
        f"read:orgs/{org}/buckets/{bucket}",
        f"write:orgs/{org}/buckets/{bucket}",
    ]
    expires = datetime.fromisoformat(rw["authorization"]["expire_time"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    rw_id, rw_token = rw["authorization"]["id"], rw["token"]

    typed = cli("auth", "create", "--org-id", org, "--read-notificationRules",
                "--write-dashboards", "--read-orgs", "--json").json()
    assert typed["authorization"]["permissions"] == [
        f"write:orgs/{org}/dashboards",
        f"read:orgs/{org}",  # the org itself: `orgs/O/orgs` would match nothing
        f"read:orgs/{org}/notificationRules",
    ]

    # A table for people: the header, each token, permissions in text form.
    table = cli("auth", "list", "--permissions").stdout.splitlines()
    assert table[0].split() == ["ID", "Description", "Status", "User", "Org", "Kind",
                                "Permissions", "Expires", "Last", "used"]
    text = "\n".join(table)
    for auth_id in (rw_id, all_access["authorization"]["id"], typed["authorization"]["id"]):
        assert auth_id in text
    assert f"read:orgs/{org}/buckets/{bucket}" in text
    assert operator_token not in text and rw_token not in text
    # Columns line up: every permission starts where the header says.
    column = table[0].index("Permissions")
    assert all(line[column:].startswith(("read:", "write:")) for line in table[1:])

    # JSON for scripts, every page followed.
    listed = cli("auth", "list", "--json", "--page-size", "2").json()
    assert len(listed) == 5
    assert all(set(a) == AUTH_KEYS for a in listed)
    assert [a["id"] for a in listed] == sorted(a["id"] for a in listed)
    only = cli("auth", "list", "--id", rw_id, "--json").json()
    assert [a["description"] for a in only] == ["telemetry rw"]

    request = f"read:orgs/{org}/buckets/{bucket}"
    assert cli("auth", "inactive", "--id", rw_id, "--json").json()["status"] == "inactive"
    denied = cli("check", "--token", rw_token, "--permission", request)
    assert "denied" in denied.stdout and "TOKEN_INACTIVE" in denied.stdout

    assert cli("auth", "active", "--id", rw_id, "--json").json()["status"] == "active"
    allowed = cli("check", "--token", rw_token, "--permission", request, "--json").json()
    assert allowed["allowed"] is True and allowed["reason"] == "ALLOWED"
    assert allowed["matched_permission"] == request
    assert allowed["authorization_id"] == rw_id
    not_read = cli("check", "--token", rw_token, "--permission",
                   f"read:orgs/{org}/dashboards", "--json").json()
    assert not_read["allowed"] is False and not_read["reason"] == "NO_MATCHING_PERMISSION"

    assert rw_id in cli("auth", "delete", "--id", rw_id).stdout
    assert rw_id not in {a["id"] for a in cli("auth", "list", "--json").json()}
    gone = cli("check", "--token", rw_token, "--permission", request, "--json").json()
    assert gone["reason"] == "TOKEN_UNKNOWN"

    # The new Operator token drives the server too (flag beats the saved token).
    config = cli("config", "--token", operator_token, "--json").json()
    assert config["settings"]["db"] == running.db_path
    assert config["settings"]["database_url"] == running.database_url


def test_users_orgs_buckets(cli: Cli) -> None:
    setup(cli)
    bob = cli("user", "create", "--name", "bob", "--password", "bob-password-1", "--json").json()
    assert bob["name"] == "bob" and bob["has_password"] is True
    assert bob["id"] in cli("user", "list").stdout
    inactive = cli("user", "update", "--id", bob["id"], "--status", "inactive", "--json").json()
    assert inactive["status"] == "inactive"
    cli("user", "password", "--name", "bob", "--new-password", "bob-password-2")
    own = cli("user", "password", "--new-password", "admin-password-2", ok=False)
    assert "old password is wrong" in own.error
    cli("user", "password", "--old-password", "admin-password-1",
        "--new-password", "admin-password-2")

    org = cli("org", "create", "--name", "beta", "--description", "second", "--json").json()
    renamed = cli("org", "update", "--id", org["id"], "--new-name", "gamma", "--json").json()
    assert renamed["name"] == "gamma" and renamed["description"] == "second"
    bucket = cli("bucket", "create", "--name", "logs", "--org", "gamma", "--json").json()
    assert bucket["org_id"] == org["id"]
    assert [b["name"] for b in cli("bucket", "list", "--org-id", org["id"], "--json").json()] \
        == ["logs"]
    # The saved org is the default where one is needed.
    assert cli("bucket", "create", "--name", "more", "--json").json()["org"] == "acme"
    made = cli("auth", "create", "--org", "gamma", "--user", "bob", "--read-bucket",
               bucket["id"], "--json").json()
    assert made["authorization"]["user"] == "bob"

    cli("bucket", "delete", "--id", bucket["id"])
    cli("org", "delete", "--id", org["id"])
    assert [o["name"] for o in cli("org", "list", "--json").json()] == ["acme"]
    cli("user", "delete", "--id", bob["id"])
    assert [u["name"] for u in cli("user", "list", "--json").json()] == ["admin"]


def test_precedence_flags_over_env_over_config(cli: Cli, running: Running) -> None:
    setup(cli)
    saved = json.loads(cli.config_path.read_text())
    # Config: a dead host and a useless token; the environment corrects both.
    cli.config_path.write_text(json.dumps({**saved, "host": "127.0.0.1:1", "token": "azt_bad"}))
    env = {"AUTHZD_HOST": running.target, "AUTHZD_TOKEN": saved["token"]}
    assert cli("org", "list", "--json", env=env).json()[0]["name"] == "acme"
    # Flags beat the environment.
    r = cli("org", "list", "--host", "127.0.0.1:1", env=env, ok=False)
    assert "cannot reach authzd at 127.0.0.1:1" in r.error
    r = cli("--token", "azt_bad", "org", "list", env=env, ok=False)
    assert "unauthorized access" in r.error and "--token" in r.error
    # Without the environment the config file's dead host is used.
    r = cli("org", "list", env={"AUTHZD_HOST": ""}, ok=False)
    assert "cannot reach authzd at 127.0.0.1:1" in r.error
