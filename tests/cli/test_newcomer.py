"""Issue 15, items 7-15: what got in a newcomer's way in the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.conftest import Cli
from tests.cli.test_flow import setup
from tests.conftest import sqlite_only


def run_stdin(cli: Cli, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with text on stdin (a pipe, not a terminal)."""
    return subprocess.run([sys.executable, "-m", "service", *args], input=stdin, text=True,
                          capture_output=True, env=cli.env, cwd=cli.home, timeout=30)


@sqlite_only
def test_org_wide_bucket_flags_cannot_be_hit_by_one_letter(cli: Cli) -> None:
    """Item 7: `--read-buckets` (with or without an id) mints nothing; the org-wide
    flag is `--read-all-buckets`, and --help says so."""
    ids = setup(cli)
    before = len(cli("auth", "list", "--json").json())
    for args in (["--read-buckets", ids["bucket_id"]], ["--read-buckets"], ["--write-buckets"]):
        r = cli("auth", "create", *args, ok=False)
        flag = args[0]
        action = flag[2:].split("-")[0]
        assert r.error == (f"error: {flag} is not a flag: --{action}-bucket ID grants one bucket, "
                           f"--{action}-all-buckets every bucket of the organization")
    assert len(cli("auth", "list", "--json").json()) == before
    wide = cli("auth", "create", "--read-all-buckets", "--json").json()
    assert wide["authorization"]["permissions"] == [f"read:orgs/{ids['org_id']}/buckets"]
    text = " ".join(cli("auth", "create", "--help").stdout.replace("-\n", "-").split())
    assert "--read-all-buckets / --write-all-buckets: spelled apart from --read-bucket ID" in text


@sqlite_only
def test_operator_needs_an_operator_token(cli: Cli) -> None:
    """Item 8: the rule, not `lacks read:authorizations`."""
    setup(cli)
    all_access = cli("auth", "create", "--all-access", "--quiet").stdout.strip()
    r = cli("auth", "create", "--operator", "--token", all_access, ok=False)
    assert r.error.startswith("error: only an Operator token can create an Operator token, and "
                              "the token from --token is not one")
    assert "read:authorizations" not in r.error


@sqlite_only
def test_ids_upper_case_and_names_in_errors(cli: Cli) -> None:
    """Item 9: upper-case ids are accepted; the all-zero id is explained; an
    unknown bucket and a duplicate bucket are said with the org's name."""
    ids = setup(cli)
    bucket = ids["bucket_id"]
    made = cli("auth", "create", "--read-bucket", bucket.upper(), "--json").json()
    assert made["authorization"]["permissions"] == [f"read:orgs/{ids['org_id']}/buckets/{bucket}"]
    r = cli("auth", "create", "--read-bucket", "0000000000000000", ok=False)
    assert r.error.startswith("error: '0000000000000000' is not a bucket ID (no ID is all zeros)")
    r = cli("auth", "create", "--read-bucket", "XYZ", ok=False)
    assert "--read-bucket takes 16 hex characters" in r.error and "lowercase" not in r.error
    for org_flag in (["--org", "acme"], ["--org-id", ids["org_id"]]):
        r = cli("auth", "create", *org_flag, "--write-bucket", "1234567890ABCDEF", ok=False)
        assert r.error.startswith("error: no bucket 1234567890abcdef in organization acme — ")
        r = cli("bucket", "create", "--name", "telemetry", *org_flag, ok=False)
        assert r.error == "error: bucket 'telemetry' already exists in organization acme"
    cli("bucket", "create", "--name", "logs")
    r = cli("bucket", "update", "--name", "logs", "--new-name", "telemetry", ok=False)
    assert r.error == "error: bucket 'telemetry' already exists in organization acme"


@sqlite_only
def test_token_tables_are_one_line_a_token(cli: Cli) -> None:
    """Item 10: a Kind column and a summary; --permissions and `auth show` expand."""
    ids = setup(cli)
    cli("auth", "create", "--all-access", "--description", "ci")
    cli("auth", "create", "--read-bucket", ids["bucket_id"], "--write-bucket", ids["bucket_id"],
        "--read-dashboards", "--description", "rw")
    lines = cli("auth", "list").stdout.strip().splitlines()
    assert len(lines) == 4  # header + 3 tokens
    header = lines[0].split()
    assert header[:7] == ["ID", "Description", "Status", "User", "Org", "Kind", "Permissions"]
    rows = {line.split()[1]: line for line in lines[1:]}
    op_row = next(r for r in lines[1:] if "Operator (46)" in r)
    assert "everything, the instance included" in op_row
    assert "All-Access (45)" in rows["ci"] and "everything in acme" in rows["ci"]
    assert "Custom (3)" in rows["rw"] and "+1 more" in rows["rw"]
    expanded = cli("auth", "list", "--permissions").stdout.strip().splitlines()
    assert len(expanded) == 1 + 46 + 45 + 3
    op_id = op_row.split()[0]
    shown = cli("auth", "show", "--id", op_id.upper()).stdout
    assert "Kind         Operator (46)" in shown and "write:instance" in shown
    assert len([line for line in shown.splitlines() if ":" in line.split()[-1]]) >= 46
    assert cli("auth", "show", "--id", op_id, "--json").json()["id"] == op_id


@sqlite_only
def test_last_used_is_explained(cli: Cli) -> None:
    """Item 11: `last used` lags up to a minute, and --help says so."""
    for verb in ("list", "show"):
        text = " ".join(cli("auth", verb, "--help").stdout.split())
        assert "Last used is written at most once a minute" in text


@sqlite_only
def test_passwords_from_stdin(cli: Cli) -> None:
    """Item 12 (and item 1): --password-stdin everywhere a password is set;
    `--password` without a value asks (and says what to do when it cannot)."""
    r = run_stdin(cli, "admin-password-1\n", "setup", "--username", "admin", "--org", "acme",
                  "--bucket", "telemetry", "--password-stdin")
    assert r.returncode == 0, r.stderr
    r = run_stdin(cli, "bot-password-1\n", "user", "create", "--name", "ci-bot",
                  "--password-stdin", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["has_password"] is True, r.stderr
    r = run_stdin(cli, "bot-password-2\n", "user", "password", "--name", "ci-bot",
                  "--password-stdin")
    assert (r.returncode, r.stdout.split(" (")[0]) == (0, "Password set for user ci-bot"), r.stderr
    # One's own: the current password first, then the new one.
    r = run_stdin(cli, "wrong-password\nadmin-password-2\n", "user", "password",
                  "--password-stdin")
    assert r.returncode == 1 and "old password is wrong" in r.stderr
    r = run_stdin(cli, "admin-password-1\nadmin-password-2\n", "user", "password",
                  "--password-stdin")
    assert r.returncode == 0 and r.stdout.startswith("Password set for user admin ("), r.stderr
    r = cli("recovery", "user", "update", "--username", "ada", "--password", ok=False)
    assert "--password without a value asks on a terminal" in r.error
    assert "--password-stdin" in r.error
    r = cli("user", "create", "--name", "x", "--password", ok=False)
    assert "--password without a value asks on a terminal" in r.error


@sqlite_only
def test_recovery_passwords_from_stdin(cli: Cli, running) -> None:  # type: ignore[no-untyped-def]
    setup(cli)
    db = ["--db", running.db_path]
    r = run_stdin(cli, "carol-password-1\n", "recovery", "user", "create", "--username", "carol",
                  "--password-stdin", *db, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["has_password"] is True, r.stderr
    r = run_stdin(cli, "admin-password-9\n", "recovery", "user", "update", "--username", "admin",
                  "--password-stdin", *db)
    assert r.returncode == 0, r.stderr
    cli("user", "password", "--old-password", "admin-password-9", "--new-password",
        "admin-password-10")


@sqlite_only
def test_every_verb_targets_by_id_or_name(cli: Cli) -> None:
    """Item 13: user/org/bucket update and delete take --id or --name (buckets
    within --org, default the saved org)."""
    setup(cli)
    cli("user", "create", "--name", "bob")
    assert cli("user", "update", "--name", "bob", "--status", "inactive", "--json").json()[
        "status"] == "inactive"
    assert cli("user", "update", "--name", "bob", "--new-name", "robert", "--json").json()[
        "name"] == "robert"
    cli("org", "create", "--name", "beta")
    assert cli("org", "update", "--name", "beta", "--description", "b", "--json").json()[
        "description"] == "b"
    cli("bucket", "create", "--name", "logs", "--org", "beta")
    cli("bucket", "create", "--name", "logs")  # in acme, the saved org
    moved = cli("bucket", "update", "--name", "logs", "--org", "beta", "--new-name", "old-logs",
                "--json").json()
    assert (moved["name"], moved["org"]) == ("old-logs", "beta")
    r = cli("bucket", "delete", "--name", "logs")
    assert r.stdout.startswith("Deleted bucket logs (")
    assert [b["name"] for b in cli("bucket", "list", "--org", "acme", "--json").json()] == [
        "telemetry"]
    r = cli("bucket", "delete", "--name", "nope", "--org", "beta", ok=False)
    assert r.error.startswith("error: no bucket named 'nope' in organization beta")
    r = cli("org", "delete", "--name", "beta")
    assert r.stdout.startswith("Deleted organization beta (")
    cli("user", "delete", "--name", "robert")
    assert [u["name"] for u in cli("user", "list", "--json").json()] == ["admin"]
    r = cli("user", "delete", ok=False)
    assert "one of the arguments --id --name is required" in r.error


@sqlite_only
def test_password_answer_names_the_user_and_local_config(cli: Cli, running) -> None:  # type: ignore[no-untyped-def]
    """Item 14: the answer names the user; `config --local` shows the CLI's own."""
    setup(cli)
    cli("user", "create", "--name", "ci-bot")
    r = cli("user", "password", "--name", "ci-bot", "--new-password", "bot-password-1")
    assert r.stdout.startswith("Password set for user ci-bot (")
    local = cli("config", "--local", "--json").json()
    saved = json.loads(cli.config_path.read_text())
    assert local == {
        "config_path": str(cli.config_path), "config_file_exists": True,
        "host": running.target, "host_source": "AUTHZD_HOST",
        "token_source": f"the config file {cli.config_path}", "token_hint": saved["token"][:8],
        "default_org": "acme", "tls_ca": None, "tls_cert": None, "tls_key": None,
    }
    text = cli("config", "--local", "--token", saved["token"]).stdout
    assert f"Host         {running.target} (from AUTHZD_HOST)" in text
    assert f"{saved['token'][:8]}… (from --token)" in text and saved["token"] not in text


def test_bash_completion(bare_cli: Cli) -> None:
    """Item 15: source the script in bash and complete `authzd au<TAB>` and more."""
    script = bare_cli("completion", "bash").stdout

    def complete(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        probe = (f"{script}\nCOMP_WORDS=(authzd {quoted}); COMP_CWORD={len(words)}; _authzd; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        out = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True,
                             check=True)
        return out.stdout.split()

    assert complete("au") == ["auth"]
    assert complete("auth", "cr") == ["create"]
    assert complete("auth", "create", "--org", "acme", "--read-all-b") == ["--read-all-buckets"]
    assert complete("serve", "--work") == ["--workers"]
    assert complete("recovery", "user", "update", "--password-") == ["--password-stdin"]
    assert "completion" in complete("")
    zsh = bare_cli("completion", "zsh").stdout
    assert "bashcompinit" in zsh and "complete -F _authzd authzd" in zsh
    fish = bare_cli("completion", "fish").stdout
    assert "complete -c authzd -f -a '(__authzd_complete)'" in fish
    assert "        case 'auth'\n            echo create list show" in fish


def run_on_terminal(cli: Cli, answers: dict[str, str], *args: str) -> tuple[int, str]:
    """The CLI on a pseudo-terminal (its controlling terminal, as a person's
    shell gives it): each prompt in `answers` is answered when it appears."""
    import os
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: never returns
        os.chdir(cli.home)
        os.execve(sys.executable, [sys.executable, "-m", "service", *args], cli.env)
    seen = b""
    pending = dict(answers)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        for prompt in list(pending):
            if seen.decode(errors="replace").rstrip().endswith(prompt):
                os.write(fd, pending.pop(prompt).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@sqlite_only
def test_password_flag_without_a_value_asks_on_a_terminal(cli: Cli, running) -> None:  # type: ignore[no-untyped-def]
    """Item 1: the README's `recovery user update ... --password` works: it asks
    (twice, without echo) instead of `expected one argument`."""
    setup(cli)
    code, screen = run_on_terminal(
        cli, {"New password:": "admin-password-7", "Confirm new password:": "admin-password-7"},
        "recovery", "user", "update", "--db", running.db_path, "--username", "admin",
        "--password")
    assert code == 0, screen
    assert "admin-password-7" not in screen  # not echoed
    cli("user", "password", "--old-password", "admin-password-7", "--new-password",
        "admin-password-8")
