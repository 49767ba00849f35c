"""Running the HTTP API: uvicorn as a task on authzd's event loop, beside the
gRPC server, in the same process (one store, one decision index).

The socket is bound here, before the thread starts, so that a taken or
malformed --http-listen fails `authzd serve` at start like --listen does, and
port 0 is known at once. With --workers N every worker binds the HTTP port with
SO_REUSEPORT too (as gRPC does): the kernel spreads connections over them.

This is the one place that starts and stops it. Its handlers run the
synchronous use cases in Starlette's thread pool, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import uvicorn

from service.app.context import App, Host
from service.settings import Settings, split_host_port

from .app import create_http_app


def parse_listen(listen: str) -> tuple[str, int]:
    found = split_host_port(listen)
    if found is None:
        raise ValueError(f"--http-listen {listen!r}: expected HOST:PORT (port 0-65535) or off")
    return found[0] or "127.0.0.1", found[1]


def _bind(listen: str, reuseport: bool) -> socket.socket:
    host, port = parse_listen(listen)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise OSError(f"cannot listen on {listen} (HTTP): {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {listen} (HTTP): {exc.strerror}") from exc
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: authzd's loop owns SIGTERM/SIGINT
    and stops everything it serves together (AuthzdServer.stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """The HTTP API. `authzd serve` co-serves it on its event loop: `attach(server)`
    binds the socket (so a bad --http-listen fails at start and port 0 is known)
    and adds uvicorn as a task of the AuthzdServer, which stops it with the RPCs
    (health NOT_SERVING first, requests in flight finish within the grace
    period). `start()`/`stop()` run it on a loop thread of its own instead, for
    synchronous callers (tests beside `build_server()`)."""

    def __init__(self, app: App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.port = 0
        self._server: _Server | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def _config(self) -> uvicorn.Config:
        s = self.settings
        tls: dict[str, object] = {}
        if s.tls_cert and s.tls_key:
            tls = {"ssl_certfile": s.tls_cert, "ssl_keyfile": s.tls_key}
            if s.tls_client_ca:
                tls.update(ssl_ca_certs=s.tls_client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
        return uvicorn.Config(
            create_http_app(self.app),
            loop="none",  # the loop is authzd's
            http="httptools",  # C parser: less GIL time taken from CheckAccess
            lifespan="off",
            log_config=None,
            access_log=False,  # authzd.http logs one line per request itself
            server_header=False,
            timeout_graceful_shutdown=max(1, int(s.grace_period)),
            **tls,  # type: ignore[arg-type]
        )

    def attach(self, server: Host) -> int:
        """Bind and register with `server` (an AuthzdServer, before its start);
        returns the port."""
        config = self._config()  # TLS files are read here: errors before binding
        config.load()
        self._sock = _bind(self.settings.http_listen, self.settings.reuseport)
        self.port = self._sock.getsockname()[1]
        uv = _Server(config)
        self._server = uv
        sock = self._sock

        async def run() -> None:
            try:
                await uv.serve(sockets=[sock])
            finally:
                sock.close()

        server.add_task(run, on_stop=self._stop)
        return self.port

    def _stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def start(self, timeout: float = 10.0) -> int:
        config = self._config()
        config.load()
        sock = self._sock = _bind(self.settings.http_listen, self.settings.reuseport)
        self.port = sock.getsockname()[1]
        server = _Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="authzd-http",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the HTTP server on {self.settings.http_listen} did not start")
            time.sleep(0.01)
        return self.port

    def stop(self, grace: float | None = None) -> None:
        self._stop()
        if self._thread is not None:
            self._thread.join((grace or 0) + 5)
        if self._sock is not None:
            self._sock.close()
