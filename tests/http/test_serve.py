"""`authzd serve --http-listen`: off, a bad address, and --workers sharing the
HTTP port (SO_REUSEPORT, like gRPC)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import ServeProcess, serve_env


def test_http_listen_off_serves_grpc_only(tmp_path: Path) -> None:
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--http-listen", "off",
                                 "--audit-log", "off"], serve_env(), tmp_path)
    try:
        assert server.port > 0
        assert server.http_port == 0
        assert not any('"serving_http"' in line for line in server.stderr_lines)
    finally:
        assert server.stop() == 0


def test_env_sets_the_http_address(tmp_path: Path) -> None:
    # No --http-listen flag: the environment's port 0 (not the default 8086) is served.
    env = {**serve_env(), "AUTHZD_HTTP_LISTEN": "127.0.0.1:0"}
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--audit-log", "off"], env,
                                tmp_path, http=None)
    try:
        assert server.http_port not in (0, 8086)
        assert _get_ping(server.http_url) == 204
    finally:
        assert server.stop() == 0


def _get_ping(url: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url + "/ping", timeout=2).status_code
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_bad_or_taken_http_address_stops_serve(tmp_path: Path) -> None:
    for listen, message in (("127.0.0.1:99999", "expected HOST:PORT"),
                            ("nowhere", "expected HOST:PORT")):
        r = subprocess.run(
            [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "a.db"),
             "--listen", "127.0.0.1:0", "--http-listen", listen, "--audit-log", "off"],
            capture_output=True, text=True, env=serve_env(), cwd=tmp_path, timeout=60)
        assert r.returncode == 1
        assert message in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "a.db"),
             "--listen", "127.0.0.1:0", "--http-listen", f"127.0.0.1:{port}",
             "--audit-log", "off"],
            capture_output=True, text=True, env=serve_env(), cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} (HTTP)" in r.stderr


def test_workers_share_the_http_port(tmp_path: Path) -> None:
    # Ports 0: the supervisor picks one of each that the workers share
    # (started means both workers serve both, and logged the same ports).
    server = ServeProcess.start(
        ["--db", str(tmp_path / "a.db"), "--workers", "2", "--audit-log", "off"],
        serve_env(), tmp_path)
    try:
        url = server.http_url
        logged = {(json.loads(line)["event"], json.loads(line)["port"])
                  for line in server.stderr_lines if '"port"' in line}
        assert logged == {("serving", server.port), ("serving_http", server.http_port)}
        assert _get_ping(url) == 204
        setup = httpx.post(url + "/api/v2/setup", timeout=30, json={
            "username": "admin", "password": "admin-password-1", "org": "acme",
            "bucket": "telemetry"})
        assert setup.status_code == 201
        token = setup.json()["auth"]["token"]
        # Whichever worker takes each new connection, it sees the one store.
        for _ in range(6):
            r = httpx.get(url + "/api/v2/me", headers={"Authorization": f"Token {token}"},
                          timeout=30)
            assert r.status_code == 200 and r.json()["name"] == "admin"
    finally:
        server.terminate()
        assert server.wait(60) == 0
