"""`authzd serve --http-listen`: off, a bad address, and --workers sharing the
HTTP port (SO_REUSEPORT, like gRPC)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import ServeProcess


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AUTHZD_")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_listen_off_serves_grpc_only(tmp_path: Path) -> None:
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--http-listen", "off",
                                 "--audit-log", "off"], _env(), tmp_path)
    try:
        assert server.port > 0
        assert server.http_port == 0
        assert not any('"serving_http"' in line for line in server.stderr_lines)
    finally:
        assert server.stop() == 0


def test_env_sets_the_http_address(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_env(), "AUTHZD_HTTP_LISTEN": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "a.db"),
         "--listen", "127.0.0.1:0", "--audit-log", "off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        assert _get_ping(f"http://127.0.0.1:{port}") == 204
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


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
            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60)
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
            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} (HTTP)" in r.stderr


def test_workers_share_the_http_port(tmp_path: Path) -> None:
    grpc_port, http_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "a.db"),
         "--listen", f"127.0.0.1:{grpc_port}", "--http-listen", f"127.0.0.1:{http_port}",
         "--workers", "2", "--audit-log", "off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{http_port}"
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
        proc.terminate()
        assert proc.wait(60) == 0


def test_workers_need_a_fixed_http_port(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "a.db"),
         "--listen", f"127.0.0.1:{_free_port()}", "--http-listen", "127.0.0.1:0",
         "--workers", "2"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    assert "--workers needs a fixed port in --http-listen" in r.stderr
