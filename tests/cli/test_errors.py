"""Mistakes end as one line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from tests.cli.conftest import Cli
from tests.conftest import Admin, sqlite_only

# How the CLI reports mistakes does not depend on the server's store.
pytestmark = sqlite_only


def test_help_lists_the_commands(cli: Cli) -> None:
    r = cli("--help")
    for command in ("serve", "setup", "auth", "user", "org", "bucket", "check", "config",
                    "recovery"):
        assert f"    {command}" in r.stdout
    assert "--read-notificationRules" in cli("auth", "create", "--help").stdout


def test_no_token(cli: Cli) -> None:
    r = cli("auth", "list", ok=False)
    assert r.error == ("error: unauthorized access: no token — run `authzd setup` "
                       "or pass --token")


def test_refused_token_and_unreachable_server(cli: Cli, admin: Admin) -> None:
    r = cli("auth", "list", "--token", admin.token[:-1] + "x", ok=False)
    assert r.error.startswith("error: unauthorized access: authzd refused the token from --token")
    r = cli("auth", "list", "--token", admin.token, "--host", "127.0.0.1:1", ok=False)
    assert r.error.startswith("error: cannot reach authzd at 127.0.0.1:1 — is `authzd serve` "
                              "running?")


def test_usage_mistakes(cli: Cli, admin: Admin) -> None:
    env = {"AUTHZD_TOKEN": admin.token}
    r = cli("auth", "create", "--org", "acme", "--frob", env=env, ok=False)
    assert "unrecognized arguments: --frob" in r.error and "authzd auth create --help" in r.error
    r = cli("auth", "delete", env=env, ok=False)
    assert "--id" in r.error
    r = cli("auth", "create", "--org", "acme", "--operator", "--read-bucket", admin.bucket_id,
            env=env, ok=False)
    assert r.error.startswith("error: --operator cannot be combined with --read-bucket")
    r = cli("auth", "create", "--org", "acme", "--all-access", "--write-dashboards", env=env,
            ok=False)
    assert r.error.startswith("error: --all-access cannot be combined with --write-dashboards")
    r = cli("auth", "create", "--org", "acme", env=env, ok=False)
    assert "--operator, --all-access" in r.error
    r = cli("auth", "create", "--org", "acme", "--read-bucket", "telemetry", env=env, ok=False)
    assert "'telemetry' is not a bucket ID" in r.error
    assert "find IDs with `authzd bucket list`" in r.error
    r = cli("auth", "create", "--org", "acme", "--operator", "--expires-in", "soon", env=env,
            ok=False)
    assert "--expires-in 'soon'" in r.error
    r = cli("check", "--token", admin.token, "--permission", "read:bukkits", ok=False)
    assert "unknown resource type 'bukkits'" in r.error
    r = cli("setup", "--username", "admin", ok=False)
    assert "setup needs --password or --password-stdin, --org, --bucket" in r.error


def test_server_errors_name_the_problem(cli: Cli, admin: Admin) -> None:
    env = {"AUTHZD_TOKEN": admin.token}
    r = cli("auth", "create", "--org", "nope", "--all-access", env=env, ok=False)
    assert r.error == "error: organization 'nope' not found"
    r = cli("auth", "inactive", "--id", admin.authorization_id, env=env, ok=False)
    assert "last active token holding write:instance" in r.error
    r = cli("org", "create", "--name", "acme", env=env, ok=False)
    assert r.error == "error: organization 'acme' already exists"
    # A token that may not create users is told which permission it lacks.
    bucket_token = cli("auth", "create", "--org", "acme", "--read-bucket", admin.bucket_id,
                       "--json", env=env).json()["token"]
    r = cli("user", "create", "--name", "eve", "--token", bucket_token, ok=False)
    assert r.error == ("error: permission denied: the caller lacks write:users — "
                       "use a token that holds it")


def test_ctrl_c_exits_quietly(cli: Cli) -> None:
    # A server that accepts connections but never answers: the call hangs.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--host", host, "--token", "azt_x", "auth", "list"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=cli.env, cwd=cli.home,
        )
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert out == "" and err.strip() == ""
