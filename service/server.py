"""The one composition root: settings -> store -> app -> gRPC server.

authzd serves on one asyncio event loop (`serve()`, or `create_server()` and
`AuthzdServer.start()/stop()`): a grpc.aio server whose AccessService handlers
are coroutines answering from memory, while the admin RPCs run their
synchronous use cases in a bounded thread pool. `build_server()` is the same
server on a loop of its own thread, for synchronous callers (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import structlog
from argon2 import PasswordHasher
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    bucket_service_pb2,
    config_service_pb2,
    organization_service_pb2,
    session_service_pb2,
    setup_service_pb2,
    user_service_pb2,
)
from grpc_health.v1 import _async as aio_health
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import _async as aio_reflection
from grpc_reflection.v1alpha import reflection, reflection_pb2

from service.app.access import AccessIndex
from service.app.audit import open_auditor
from service.app.clock import Clock, SystemClock
from service.app.context import App
from service.app.ext_rules import load_rules
from service.app.names import NameIndex
from service.app.passwords import BoundedHasher
from service.domain.errors import StoreUnavailable
from service.settings import Settings
from service.store import notify, open_store
from service.tracing import Tracing, from_environment
from service.transport import ext_authz
from service.transport.access import AccessServicer
from service.transport.access import add_to_server as add_access_service
from service.transport.limits import add_service, checked
from service.transport.rpc import rpc
from service.transport.servicers import (
    UNAUTHENTICATED_METHODS,
    AuthorizationServicer,
    BucketServicer,
    ConfigServicer,
    OrganizationServicer,
    SessionServicer,
    SetupServicer,
    UserServicer,
)
from service.transport.threads import in_thread

log = structlog.get_logger("authzd")

# (servicer class, pb2 module) of the wrapped admin services.
_ADMIN = [
    (AuthorizationServicer, authorization_service_pb2),
    (UserServicer, user_service_pb2),
    (OrganizationServicer, organization_service_pb2),
    (BucketServicer, bucket_service_pb2),
    (SetupServicer, setup_service_pb2),
    (SessionServicer, session_service_pb2),
    (ConfigServicer, config_service_pb2),
]


def build_app(
    settings: Settings, clock: Clock | None = None, hasher: PasswordHasher | None = None
) -> App:
    clock = clock or SystemClock()
    store = open_store(settings.db, settings.database_url or None, pool_size=settings.pool_size)
    access = AccessIndex(
        store,
        clock,
        cache_size=settings.cache_size,
        poll_interval=settings.poll_interval,
        stale_after=settings.stale_after,
    )
    app = App(store=store, clock=clock, access=access, settings=settings)
    try:
        app.audit = open_auditor(settings.audit_log, clock)
    except OSError as exc:
        store.close()
        raise OSError(f"cannot open the audit log {settings.audit_log}: {exc.strerror}") from exc
    # Keep at least 4 RPC threads free of password work for CheckAccess.
    app.hasher = BoundedHasher(hasher, max_in_progress=max(1, settings.threads - 4))
    return app


# Thread name prefixes: admin RPCs (peewee, argon2), and CheckAccess misses
# (a token read from the store). Separate pools, so password work can never
# hold the threads a miss needs.
_RPC_THREADS = "authzd-rpc"
_MISS_THREADS = "authzd-miss"
MISS_THREADS = 4

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class AuthzdServer:
    """authzd on one asyncio event loop: a grpc.aio server, its app, its health
    servicer, and whatever else is co-served on the same loop.

    Built by `create_server()` on the loop that will run it. Before `start()`:
    - `add_generic_rpc_handlers(...)` registers more gRPC services on the same
      server and port (an `async def` handler runs on the loop and must not
      block; a plain function would run in grpc's fallback pool, so wrap it
      with `transport.threads.in_thread(handler, server.pool)` instead);
    - `add_task(run, on_stop=...)` co-serves a coroutine on the loop, e.g. an
      HTTP API: `uv = uvicorn.Server(config); server.add_task(uv.serve,
      on_stop=lambda: setattr(uv, "should_exit", True))`. `stop()` calls
      `on_stop` when health turns NOT_SERVING, gives the task the same grace
      period as the RPCs, then cancels it.
    """

    def __init__(
        self,
        grpc_server: grpc.aio.Server,
        app: App,
        health_servicer: aio_health.HealthServicer,
        port: int,
        pool: futures.ThreadPoolExecutor,
        misses: futures.ThreadPoolExecutor,
    ):
        self.grpc_server = grpc_server
        self.app = app
        self.health = health_servicer
        self.port = port
        self.pool = pool
        self.misses = misses
        self._stopping = threading.Event()
        self.tracing: Tracing | None = None  # shut down at stop (when built here)
        self._tasks: list[tuple[Callable[[], Awaitable[Any]], Callable[[], None] | None]] = []
        self._running: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.grpc_server.add_generic_rpc_handlers(handlers)

    def add_task(
        self, run: Callable[[], Awaitable[Any]], *, on_stop: Callable[[], None] | None = None
    ) -> None:
        self._tasks.append((run, on_stop))

    def _health_changed(self, ok: bool) -> None:
        """From the poller thread: hand the change to the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        status = _SERVING if ok else _NOT_SERVING
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            # The coroutine is made on the loop: none is left un-awaited if
            # the loop is gone.
            loop.call_soon_threadsafe(lambda: loop.create_task(self.health.set("", status)))

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.app.settings.preload:
            self.app.access.preload()
        # Everything built so far (modules, the compiled index) lives as long as
        # the process: take it out of the cyclic GC's scans, which otherwise grow
        # with the number of tokens and show up on every call.
        gc.collect()
        gc.freeze()
        self.app.access.on_health_change = self._health_changed
        self.app.access.start()
        if self.app.settings.database_url:
            self._listener = threading.Thread(
                target=notify.listen,
                args=(self.app.settings.database_url, self.app.access.wake, self._stopping),
                name="authzd-listen",
                daemon=True,
            )
            self._listener.start()
        await self.grpc_server.start()
        self._running = [asyncio.ensure_future(run()) for run, _ in self._tasks]
        for task in self._running:
            task.add_done_callback(_report_failure)
        await self.health.set("", _SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING first, then let in-flight RPCs (and co-served tasks)
        finish within grace; past it they are cancelled."""
        self._stopping.set()
        await self.health.enter_graceful_shutdown()
        for _, on_stop in self._tasks:
            if on_stop is not None:
                on_stop()
        await self.grpc_server.stop(grace)
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=grace or 0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Past the grace period the calls are cancelled but not the handler
        # threads; let the idle ones go (see handlers_done).
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.misses.shutdown(wait=False, cancel_futures=True)
        self.app.access.stop()
        self.app.store.close()
        self.app.audit.close()
        if self.tracing is not None:
            self.tracing.shutdown()  # flush what is still batched
        # What start() froze may now be garbage in cycles (the pool threads'
        # store connections among it): let the cyclic GC have it again, or a
        # process that builds many servers (the tests) keeps their files open.
        gc.unfreeze()

    def handlers_done(self, timeout: float) -> bool:
        """After stop(): whether every RPC handler thread has returned, waiting up
        to timeout. A handler cut off by the grace period (an argon2 hash, a wait
        for the store) may still run; its call was cancelled, so what it does is
        unacknowledged, and the process may exit without it."""
        deadline = time.monotonic() + timeout
        for thread in threading.enumerate():
            if thread.name.startswith((_RPC_THREADS, _MISS_THREADS)):
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    return False
        return True


class _Health(aio_health.HealthServicer):
    """grpc's health servicer, whose Check also says NOT_SERVING while checks
    fail closed (the store unconfirmed for --stale-after), even before the
    poller's failing read has handed the change to the loop."""

    def __init__(self, access: AccessIndex) -> None:
        super().__init__()
        self._access = access

    async def Check(self, request: Any, context: Any) -> Any:
        response = await super().Check(request, context)
        if response is not None and response.status == _SERVING:
            try:
                self._access.ensure_fresh()
            except StoreUnavailable:
                return health_pb2.HealthCheckResponse(status=_NOT_SERVING)
        return response


def _report_failure(task: asyncio.Future[Any]) -> None:
    """A co-served task that ends with an error says so (nothing awaits it
    until stop())."""
    if not task.cancelled() and task.exception() is not None:
        log.error("co_served_task_failed", error=repr(task.exception()))


async def serve(
    settings: Settings, stop: asyncio.Event, *, audit_sink: Any = None
) -> AuthzdServer:
    """`authzd serve`: everything the settings ask for on the running loop (gRPC,
    the HTTP API, the sibling-worker socket, Prometheus metrics) until `stop` is
    set, then drain within settings.grace_period. `audit_sink` replaces the
    audit trail's sink (the CLI's console rendering). The "serving" line (with
    the bound ports) is logged once everything serves. Raises ValueError,
    OSError, AuthzdError or NoDatabase when it cannot start. Returns the stopped
    server (see handlers_done)."""
    if settings.http_listen != "off":
        # Imported before the server starts, whose start() moves everything
        # imported so far out of the cyclic GC's scans (gc.freeze).
        from service.http.serve import HttpServer
    metrics_port = None
    if settings.metrics_listen:
        from service.transport.metrics import start_metrics

        try:
            metrics_port = start_metrics(settings.metrics_listen)
        except (ValueError, OSError) as exc:
            raise ValueError(f"--metrics-listen {settings.metrics_listen}: {exc}") from exc
    server = await create_server(settings)
    if settings.siblings_dir:
        from service.transport.siblings import Siblings

        Siblings(settings.siblings_dir).attach(server)
    if audit_sink is not None:
        server.app.audit.sink = audit_sink
    http_port = (HttpServer(server.app, settings).attach(server)
                 if settings.http_listen != "off" else None)
    await server.start()
    try:
        _log_serving(settings, server.port, http_port, metrics_port)
        await stop.wait()
    finally:
        log.info("stopping", grace_seconds=settings.grace_period)
        await server.stop(settings.grace_period)
    return server


def _log_serving(
    settings: Settings, port: int, http_port: int | None, metrics_port: int | None
) -> None:
    if not settings.tls_cert and not _loopback(settings.listen):
        log.warning(
            "plaintext_on_network",
            listen=settings.listen,
            detail="no TLS: AccessService takes no caller token, so anyone who can "
            "reach this port may ask about any token, and admin tokens cross the "
            "network in clear; serve TLS/mTLS (--tls-cert, --tls-key, "
            "--tls-client-ca) or restrict the network",
        )
    if http_port is not None:
        log.info("serving_http", listen=settings.http_listen, port=http_port)
    if metrics_port is not None:
        log.info("serving_metrics", listen=settings.metrics_listen, port=metrics_port)
    log.info(
        "serving",
        listen=settings.listen,
        port=port,
        store=settings.database_url and "postgresql" or settings.db,
        metrics=settings.metrics_listen or None,
    )


def _loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0].removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class Server:
    """An AuthzdServer on an event loop of its own thread, driven from plain
    (synchronous) code: tests, and embedders without a loop of their own."""

    def __init__(self, aio: AuthzdServer, loop: asyncio.AbstractEventLoop,
                 thread: threading.Thread) -> None:
        self.aio = aio
        self.app = aio.app
        self.port = aio.port
        self._loop = loop
        self._thread = thread

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def start(self) -> None:
        self._call(self.aio.start())

    def stop(self, grace: float | None = None) -> None:
        """Stop, and end the loop thread; a second call does nothing."""
        if self._loop.is_closed():
            return
        try:
            self._call(self.aio.stop(grace))
        finally:
            _close_loop(self._loop, self._thread)

    def handlers_done(self, timeout: float) -> bool:
        return self.aio.handlers_done(timeout)


def _loop_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="authzd-loop", daemon=True)
    thread.start()
    return loop, thread


def _close_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    if not thread.is_alive():
        loop.close()


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """None for plaintext; TLS with --tls-cert/--tls-key; mTLS when --tls-client-ca
    is also given (a client certificate signed by that CA is required). Checked
    before anything is opened."""
    if not settings.tls_cert and not settings.tls_key:
        if settings.tls_client_ca:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    key = Path(settings.tls_key).read_bytes()
    cert = Path(settings.tls_cert).read_bytes()
    client_ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def build_server(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    tracing: Tracing | None = None,
) -> tuple[Server, int]:
    """Build (not start) the server on an event loop of its own thread; listen on
    settings.listen (port 0: any free port). Tests pass a FakeClock, a cheap
    hasher, and tracing to an in-memory exporter."""
    loop, thread = _loop_thread()
    try:
        aio = asyncio.run_coroutine_threadsafe(
            create_server(settings, clock=clock, hasher=hasher, tracing=tracing), loop
        ).result()
    except BaseException:
        _close_loop(loop, thread)
        raise
    return Server(aio, loop, thread), aio.port


async def create_server(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    tracing: Tracing | None = None,
) -> AuthzdServer:
    """Build (not start) the server on the running loop; listen on
    settings.listen (port 0: any free port)."""
    credentials = _server_credentials(settings)
    rules = load_rules(settings.ext_authz_rules) if settings.ext_authz_rules else None
    owns_tracing = tracing is None
    tracing = tracing or from_environment(settings.otel)
    app = build_app(settings, clock, hasher)
    app.tracing = tracing
    pool = futures.ThreadPoolExecutor(
        max_workers=settings.threads, thread_name_prefix=_RPC_THREADS
    )
    misses = futures.ThreadPoolExecutor(
        max_workers=MISS_THREADS, thread_name_prefix=_MISS_THREADS
    )
    grpc_server = grpc.aio.server(
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            # grpc Python has no per-method receive limit: the servicers enforce
            # theirs (RESOURCE_EXHAUSTED with ErrorInfo LIMIT_EXCEEDED). grpc's own
            # refusal carries no ErrorInfo, so it only stops what is far past
            # every limit (twice the largest) before it is buffered.
            (
                "grpc.max_receive_message_length",
                2
                * max(
                    settings.max_check_request_bytes,
                    settings.max_batch_request_bytes,
                    settings.max_admin_request_bytes,
                ),
            ),
            # Off unless asked: two servers must not share a port by accident.
            ("grpc.so_reuseport", 1 if settings.reuseport else 0),
        ],
    )
    access_servicer = AccessServicer(
        app.access,
        cache_size=settings.answer_cache_size,
        max_check_bytes=settings.max_check_request_bytes,
        max_batch_bytes=settings.max_batch_request_bytes,
        misses=misses,
    )
    add_access_service(access_servicer, grpc_server, tracing)
    names = [access_service_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name]
    if settings.ext_authz:
        checker = ext_authz.ExtAuthz(
            app.access,
            NameIndex(app.store, app.access),
            rules,
            remove_authorization=settings.ext_authz_remove_authorization,
            denials=access_servicer.denials,
            max_bytes=settings.max_admin_request_bytes,
        )
        ext_authz.add_to_server(ext_authz.handler(checker, misses, tracing), grpc_server)
        names.append(ext_authz.SERVICE)
    admin_limit = settings.max_admin_request_bytes
    for servicer_cls, pb2 in _ADMIN:
        servicer = servicer_cls(app)
        for service in pb2.DESCRIPTOR.services_by_name.values():
            names.append(service.full_name)
            add_service(
                grpc_server,
                service,
                {
                    method.name: in_thread(
                        rpc(
                            app,
                            f"{service.name}/{method.name}",
                            getattr(servicer, method.name),
                            authenticated=method.name not in UNAUTHENTICATED_METHODS,
                        ),
                        pool,
                    )
                    for method in service.methods
                },
                admin_limit,
            )
    health_servicer = _Health(app.access)
    await health_servicer.set("", _NOT_SERVING)
    health_service = health_pb2.DESCRIPTOR.services_by_name["Health"]
    add_service(grpc_server, health_service, checked(health_servicer, health_service), admin_limit)
    reflector = aio_reflection.ReflectionServicer(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    )
    reflection_service = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
    add_service(
        grpc_server, reflection_service, checked(reflector, reflection_service), admin_limit
    )
    try:
        if credentials is None:
            port = grpc_server.add_insecure_port(settings.listen)
        else:
            port = grpc_server.add_secure_port(settings.listen, credentials)
    except RuntimeError:  # grpc raises when the address is taken or malformed
        port = 0
    if port == 0:
        pool.shutdown(wait=False)
        misses.shutdown(wait=False)
        app.store.close()
        app.audit.close()
        raise OSError(f"cannot listen on {settings.listen}")
    server = AuthzdServer(grpc_server, app, health_servicer, port, pool, misses)
    server.tracing = tracing if owns_tracing else None
    return server
