"""The HTTP API under the gRPC TLS flags: HTTPS, the cookie marked Secure, and a
client certificate required under --tls-client-ca (mTLS)."""

from __future__ import annotations

import dataclasses
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.http.serve import HttpServer
from tests.cli.test_tls import _make_certs
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, Running, sqlite_only

pytestmark = sqlite_only


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    assert shutil.which("openssl"), "the openssl command is needed to make test certificates"
    d = tmp_path / "certs"
    d.mkdir()
    _make_certs(d)
    return d


def _serve(running: Running, certs: Path, mtls: bool) -> HttpServer:
    settings = dataclasses.replace(
        running.server.app.settings, http_listen="127.0.0.1:0",
        tls_cert=str(certs / "server.pem"), tls_key=str(certs / "server.key"),
        tls_client_ca=str(certs / "ca.pem") if mtls else "",
    )
    server = HttpServer(running.server.app, settings)
    server.start()
    return server


@pytest.fixture
def tls_server(running: Running, certs: Path) -> Iterator[HttpServer]:
    server = _serve(running, certs, mtls=False)
    yield server
    server.stop(0)


def test_https_and_a_secure_cookie(tls_server: HttpServer, certs: Path, admin: Admin) -> None:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with httpx.Client(base_url=f"https://127.0.0.1:{tls_server.port}", verify=context) as c:
        r = c.post("/api/v2/signin", auth=(ADMIN_USER, ADMIN_PASSWORD))
        assert r.status_code == 204
        attrs = [a.strip() for a in r.headers["set-cookie"].split(";")]
        assert "Secure" in attrs and "HttpOnly" in attrs
        cookie = attrs[0]
        me = c.get("/api/v2/me", headers={"Cookie": cookie})
        assert me.json()["name"] == ADMIN_USER
        # Same origin is https://host:port now.
        origin = f"https://127.0.0.1:{tls_server.port}"
        ok = c.post("/api/v2/orgs", json={"name": "tls-org"},
                    headers={"Cookie": cookie, "Origin": origin,
                             "Sec-Fetch-Site": "same-origin"})
        assert ok.status_code == 201
        plain_origin = origin.replace("https:", "http:")
        refused = c.post("/api/v2/orgs", json={"name": "x"},
                         headers={"Cookie": cookie, "Origin": plain_origin})
        assert refused.status_code == 403
    with (httpx.Client(base_url=f"http://127.0.0.1:{tls_server.port}") as plain,
          pytest.raises(httpx.HTTPError)):
        plain.get("/ping")


def test_mtls_requires_a_client_certificate(running: Running, certs: Path, admin: Admin) -> None:
    server = _serve(running, certs, mtls=True)
    try:
        url = f"https://127.0.0.1:{server.port}"
        without = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with httpx.Client(base_url=url, verify=without) as c, pytest.raises(httpx.HTTPError):
            c.get("/ping")
        with_cert = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with_cert.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
        with httpx.Client(base_url=url, verify=with_cert,
                          headers={"Authorization": f"Token {admin.token}"}) as c:
            assert c.get("/ping").status_code == 204
            assert c.get("/api/v2/me").json()["name"] == ADMIN_USER
    finally:
        server.stop(0)
