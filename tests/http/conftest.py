"""An HTTP API on port 0 beside the `running` gRPC server (same App: one store,
one decision index), and plain httpx clients for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from service.http.serve import HttpServer
from tests.conftest import Admin, Running


@dataclass
class Http:
    url: str
    running: Running

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token is not None:
            headers["Authorization"] = f"Token {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def http(running: Running) -> Iterator[Http]:
    app = running.server.app
    server = HttpServer(app, dataclasses.replace(app.settings, http_listen="127.0.0.1:0"))
    port = server.start()
    try:
        yield Http(f"http://127.0.0.1:{port}", running)
    finally:
        server.stop(0)


@pytest.fixture
def api(http: Http, admin: Admin) -> Iterator[httpx.Client]:
    """A client with the Operator token of setup."""
    with http.client(admin.token) as client:
        yield client
