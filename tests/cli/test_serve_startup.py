"""`authzd serve` start-up (issue 15, items 16-19): one port, one authzd group;
a refused start says one line and creates nothing; audit events on a terminal;
a warning for plaintext on the network; `--version` in both places."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from service.cli.ports import lock_path
from tests.cli.conftest import Cli, clean_env
from tests.serving import ServeProcess, reserved_port

SERVE = [sys.executable, "-m", "service", "serve", "--log-format", "json"]


def group(tmp: Path, name: str, workers: int, port: int = 0) -> ServeProcess:
    """A `--workers N` (or single) authzd serve on its own database, started when
    every worker serves; on `port` (0: any free one, which all the workers share)."""
    return ServeProcess.start(
        ["--db", str(tmp / f"{name}.db"), "--listen", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", "5", "--audit-log", "off"],
        clean_env(tmp), tmp, http="off")


def refused(tmp: Path, name: str, port: int, workers: int) -> str:
    """Start a second server on the port; it must exit 1 with one error line."""
    proc = subprocess.run(
        [*SERVE, "--db", str(tmp / f"{name}.db"), "--listen", f"127.0.0.1:{port}",
         "--workers", str(workers), "--audit-log", "off"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(tmp), cwd=tmp,
        timeout=60)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot listen on "), proc.stderr
    assert "add_port" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp / f"{name}.db").exists()  # refused before the store was opened
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(("first", "second"), [(2, 2), (1, 2), (2, 1)])
def test_one_port_serves_one_authzd_group(tmp_path: Path, first: int, second: int) -> None:
    """Item 16: a second group (or single server) on another database is refused,
    whichever started first; the first keeps serving."""
    server = group(tmp_path, "first", first)  # port 0, as logged: the second gets the same
    try:
        line = refused(tmp_path, "second", server.port, second)
        assert "already" in line
        assert server.proc.poll() is None
    finally:
        server.stop()


def test_group_lock_refuses_a_concurrent_group(tmp_path: Path) -> None:
    """Item 16, the race: while one supervisor holds the port's lock (before its
    workers bind), another group is refused even though the port is still free."""
    import fcntl

    with reserved_port() as port, open(lock_path(port), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.truncate(0)
        held.write("4242\n")
        held.flush()
        line = refused(tmp_path, "racer", port, 2)
    assert "another authzd --workers group (pid 4242)" in line


def test_taken_port_is_one_line_and_creates_no_database(tmp_path: Path) -> None:
    """Item 17: no grpc `E... add_port.cc` line, no empty database file."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(tmp_path, "never", port, 1)
    assert line == (f"error: cannot listen on 127.0.0.1:{port}: the address is already in use "
                    "(by another authzd, or another program)")


def test_address_not_on_this_host_is_one_line(tmp_path: Path) -> None:
    """Item 17: an address grpc cannot bind is refused the same way."""
    proc = subprocess.run(
        [*SERVE, "--db", str(tmp_path / "n.db"), "--listen", "192.0.2.1:50051"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(tmp_path),
        cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stderr) == (
        1, "error: cannot listen on 192.0.2.1:50051: Cannot assign requested address\n")
    assert not (tmp_path / "n.db").exists()


def test_console_log_renders_audit_events_and_warns_on_plaintext_network(
    tmp_path: Path, bare_cli: Cli
) -> None:
    """Item 18: with console logs (what `auto` picks on a terminal) audit events
    on stderr are rendered like the log lines, not raw JSON; `--listen 0.0.0.0`
    without TLS logs a warning naming AccessService."""
    # Port 0 on every address; the port is read from the console `serving` line.
    server = ServeProcess.start(["--log-format", "console", "--db", str(tmp_path / "a.db"),
                                 "--listen", "0.0.0.0:0"], clean_env(tmp_path), tmp_path)
    try:
        # An admin call without a token: refused, and audited.
        r = bare_cli("user", "list", env={"AUTHZD_HOST": server.target,
                                          "AUTHZD_TOKEN": "azt_" + "x" * 49}, ok=False)
        assert "unauthorized" in r.error
    finally:
        server.stop()
    err = "".join(server.stderr_lines)
    lines = err.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("{")], err
    audit = [line for line in lines if "user.list denied" in line]
    assert len(audit) == 1, err
    assert "[audit" in audit[0] and "reason=ERROR_REASON_UNAUTHENTICATED" in audit[0]
    warning = [line for line in lines if "plaintext_on_network" in line]
    assert len(warning) == 1 and "AccessService takes no caller token" in warning[0], err


def test_loopback_plaintext_does_not_warn(tmp_path: Path) -> None:
    server = ServeProcess.start(["--db", str(tmp_path / "a.db")], clean_env(tmp_path), tmp_path)
    server.stop()
    assert not [line for line in server.stderr_lines if "plaintext_on_network" in line]


@pytest.mark.parametrize("args", [["--version"], ["serve", "--version"]])
def test_version(bare_cli: Cli, args: list[str]) -> None:
    """Item 19: one version, from the installed package's metadata (pyproject.toml)."""
    r = bare_cli(*args)
    assert r.stdout.strip() == f"authzd {version('authzd')}" == "authzd 0.1.0"


def test_license_and_changelog() -> None:
    """Item 19: Apache-2.0, in the file and in the package metadata."""
    from importlib.metadata import metadata

    root = Path(__file__).resolve().parents[2]
    assert (root / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert metadata("authzd")["License-Expression"] == "Apache-2.0"
    changelog = (root / "CHANGELOG.md").read_text()
    assert "## [0.1.0]" in changelog
    assert os.path.getsize(root / "LICENSE") > 10_000


def test_console_audit_sink_keeps_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    """Item 18: rendering for the terminal must not undo the JSON line's escapes:
    a name with a newline (or U+2028) stays on one line, visibly escaped."""
    import json as jsonlib

    from service.cli.serve import ConsoleAuditSink

    line = jsonlib.dumps({
        "time": "2027-01-15T08:00:01.500000Z", "event": "audit", "request_id": "r-1",
        "peer": "local", "caller_authorization_id": None, "caller_user_id": None,
        "action": "user.create", "target": {"type": "user", "name": "eve\nFAKE\u2028x"},
        "outcome": "success", "reason": "", "update_mask": ["name", "status"],
    }, ensure_ascii=True) + "\n"
    ConsoleAuditSink().write(line)
    out = capsys.readouterr().err
    assert out.count("\n") == 1 and "\u2028" not in out, out
    assert out.startswith("2027-01-15T08:00:01.500000Z [audit")
    assert "user.create success" in out
    assert 'target_name="eve\\nFAKE\\u2028x"' in out
    assert 'update_mask=["name","status"]' in out and "caller_user_id" not in out
