"""The one composition root: settings -> store -> app -> gRPC server."""

from __future__ import annotations

import gc
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
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
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from service.app.access import AccessIndex
from service.app.audit import open_auditor
from service.app.clock import Clock, SystemClock
from service.app.context import App
from service.app.ext_rules import load_rules
from service.app.names import NameIndex
from service.app.passwords import BoundedHasher
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


_RPC_THREADS = "authzd-rpc"


class Server:
    """A running authzd: the grpc server, its app and its health servicer."""

    def __init__(
        self,
        grpc_server: grpc.Server,
        app: App,
        health_servicer: Any,
        port: int,
        executor: futures.ThreadPoolExecutor | None = None,
    ):
        self.grpc_server = grpc_server
        self.app = app
        self.health = health_servicer
        self.port = port
        self.executor = executor
        self._stopping = threading.Event()
        self.tracing: Tracing | None = None  # shut down at stop (when built here)

    def start(self) -> None:
        if self.app.settings.preload:
            self.app.access.preload()
        # Everything built so far (modules, the compiled index) lives as long as
        # the process: take it out of the cyclic GC's scans, which otherwise grow
        # with the number of tokens and show up on every call.
        gc.collect()
        gc.freeze()
        self.app.access.start()
        if self.app.settings.database_url:
            self._listener = threading.Thread(
                target=notify.listen,
                args=(self.app.settings.database_url, self.app.access.wake, self._stopping),
                name="authzd-listen",
                daemon=True,
            )
            self._listener.start()
        self.grpc_server.start()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING first, then let in-flight RPCs finish within grace."""
        self._stopping.set()
        self.health.enter_graceful_shutdown()
        self.grpc_server.stop(grace).wait()
        # Past the grace period grpc has cancelled the calls but not their
        # handlers; let the idle worker threads go (see handlers_done).
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.app.access.stop()
        self.app.store.close()
        self.app.audit.close()
        if self.tracing is not None:
            self.tracing.shutdown()  # flush what is still batched

    def handlers_done(self, timeout: float) -> bool:
        """After stop(): whether every RPC handler thread has returned, waiting up
        to timeout. A handler cut off by the grace period (an argon2 hash, a wait
        for the store) may still run; its call was cancelled, so what it does is
        unacknowledged, and the process may exit without it."""
        deadline = time.monotonic() + timeout
        for thread in threading.enumerate():
            if thread.name.startswith(_RPC_THREADS):
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    return False
        return True


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
    """Build (not start) the server; listen on settings.listen (port 0: any free port).
    Tests pass a FakeClock, a cheap hasher, and tracing to an in-memory exporter."""
    credentials = _server_credentials(settings)
    rules = load_rules(settings.ext_authz_rules) if settings.ext_authz_rules else None
    owns_tracing = tracing is None
    tracing = tracing or from_environment(settings.otel)
    app = build_app(settings, clock, hasher)
    app.tracing = tracing
    executor = futures.ThreadPoolExecutor(
        max_workers=settings.threads, thread_name_prefix=_RPC_THREADS
    )
    grpc_server = grpc.server(
        executor,
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
        max_check_bytes=settings.max_check_request_bytes,
        max_batch_bytes=settings.max_batch_request_bytes,
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
        ext_authz.add_to_server(ext_authz.handler(checker, tracing), grpc_server)
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
                    method.name: rpc(
                        app,
                        f"{service.name}/{method.name}",
                        getattr(servicer, method.name),
                        authenticated=method.name not in UNAUTHENTICATED_METHODS,
                    )
                    for method in service.methods
                },
                admin_limit,
            )
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_service = health_pb2.DESCRIPTOR.services_by_name["Health"]
    add_service(grpc_server, health_service, checked(health_servicer, health_service), admin_limit)
    app.access.on_health_change = lambda ok: health_servicer.set(
        "",
        health_pb2.HealthCheckResponse.SERVING
        if ok
        else health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    reflector = reflection.ReflectionServicer(
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
        app.store.close()
        app.audit.close()
        raise OSError(f"cannot listen on {settings.listen}")
    server = Server(grpc_server, app, health_servicer, port, executor)
    server.tracing = tracing if owns_tracing else None
    return server, port
