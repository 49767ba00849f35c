"""`authzd serve`: run the server until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import structlog

from service import __version__
from service.logs import configure_logging
from service.settings import Settings

from .ports import PortUnavailable, group_lock, probe, split_listen


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = Settings()
    p = sub.add_parser("serve", help="run the authzd server")
    p.add_argument("--version", action="version", version=f"authzd {__version__}")
    env = os.environ.get
    p.add_argument(
        "--db",
        default=env("AUTHZD_DB", d.db),
        help=f"SQLite database file (default {d.db}; env AUTHZD_DB)",
    )
    p.add_argument(
        "--database-url",
        default=env("AUTHZD_DATABASE_URL", ""),
        help="postgresql://user:password@host:port/db instead of SQLite (env AUTHZD_DATABASE_URL)",
    )
    p.add_argument(
        "--pool-size",
        type=int,
        default=int(env("AUTHZD_POOL_SIZE", d.pool_size)),
        help=f"PostgreSQL connections per process (default {d.pool_size})",
    )
    p.add_argument(
        "--listen",
        default=env("AUTHZD_LISTEN", d.listen),
        help=f"HOST:PORT to listen on (default {d.listen}; env AUTHZD_LISTEN)",
    )
    p.add_argument(
        "--http-listen",
        default=env("AUTHZD_HTTP_LISTEN", d.http_listen),
        metavar="HOST:PORT",
        help="serve the InfluxDB-compatible HTTP API here, with the same TLS flags "
        f'("off": not at all; default {d.http_listen}; env AUTHZD_HTTP_LISTEN)',
    )
    p.add_argument(
        "--threads",
        type=int,
        default=int(env("AUTHZD_THREADS", d.threads)),
        help=f"threads for admin RPCs; CheckAccess runs on the event loop (default {d.threads})",
    )
    p.add_argument(
        "--max-concurrent-rpcs",
        type=int,
        default=int(env("AUTHZD_MAX_CONCURRENT_RPCS", d.max_concurrent_rpcs)),
        help="RPCs in progress or queued at once; more are refused with "
        f"RESOURCE_EXHAUSTED (default {d.max_concurrent_rpcs})",
    )
    p.add_argument(
        "--grace-period",
        type=float,
        default=float(env("AUTHZD_GRACE_PERIOD", d.grace_period)),
        help="on SIGTERM/SIGINT, seconds in-flight RPCs get to finish before "
        f"they are cancelled (default {d.grace_period})",
    )
    p.add_argument(
        "--session-ttl-minutes",
        type=int,
        default=int(env("AUTHZD_SESSION_TTL_MINUTES", d.session_ttl_minutes)),
        help=f"sign-in session lifetime (default {d.session_ttl_minutes})",
    )
    p.add_argument(
        "--cache-size",
        type=int,
        default=int(env("AUTHZD_CACHE_SIZE", d.cache_size)),
        help=f"tokens kept in memory (default {d.cache_size})",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=float(env("AUTHZD_POLL_INTERVAL", d.poll_interval)),
        help="seconds between reads of the store's change signal; bounds how "
        f"late another process's write is seen (default {d.poll_interval})",
    )
    p.add_argument(
        "--stale-after",
        type=float,
        default=float(env("AUTHZD_STALE_AFTER", d.stale_after)),
        help="fail closed (UNAVAILABLE) when the store has been unreadable this "
        f"many seconds (default {d.stale_after})",
    )
    p.add_argument(
        "--tls-cert",
        default=env("AUTHZD_TLS_CERT", ""),
        help="PEM certificate chain: serve TLS (with --tls-key)",
    )
    p.add_argument("--tls-key", default=env("AUTHZD_TLS_KEY", ""), help="PEM private key")
    p.add_argument(
        "--tls-client-ca",
        default=env("AUTHZD_TLS_CLIENT_CA", ""),
        help="PEM CA bundle: require client certificates signed by it (mTLS)",
    )
    p.add_argument(
        "--metrics-listen",
        default=env("AUTHZD_METRICS_LISTEN", ""),
        metavar="HOST:PORT",
        help="serve Prometheus metrics over HTTP here (default: off; one worker only)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(env("AUTHZD_WORKERS", d.workers)),
        help="server processes sharing the port via SO_REUSEPORT (default 1)",
    )
    p.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="do not compile every token into memory at start",
    )
    p.add_argument("--reuseport", action="store_true", help=argparse.SUPPRESS)
    # Set by the supervisor of --workers: where the workers tell each other of
    # their writes (transport/siblings.py).
    p.add_argument("--siblings-dir", default="", help=argparse.SUPPRESS)
    p.add_argument(
        "--log-level",
        default=env("AUTHZD_LOG_LEVEL", d.log_level),
        choices=["debug", "info", "warning", "error"],
    )
    p.add_argument(
        "--log-format",
        default=env("AUTHZD_LOG_FORMAT", d.log_format),
        choices=["auto", "json", "console"],
    )
    p.add_argument(
        "--audit-log",
        metavar="PATH",
        default=env("AUTHZD_AUDIT_LOG", d.audit_log),
        help='audit events as JSON lines: a file to append to, "-" for stderr, '
        f'"off" for none (default {d.audit_log}; env AUTHZD_AUDIT_LOG)',
    )
    p.add_argument(
        "--ext-authz",
        default=env("AUTHZD_EXT_AUTHZ", "on" if d.ext_authz else "off"),
        choices=["on", "off"],
        help="serve Envoy's ext_authz v3 Authorization/Check on the same port (default on)",
    )
    p.add_argument(
        "--ext-authz-rules",
        metavar="PATH",
        default=env("AUTHZD_EXT_AUTHZ_RULES", d.ext_authz_rules),
        help="rules mapping HTTP method and path to the permission needed (README "
        '"Behind Envoy"); without it only routes with the authzd_permission context '
        "extension are allowed",
    )
    p.add_argument(
        "--ext-authz-remove-authorization",
        action="store_true",
        default=env("AUTHZD_EXT_AUTHZ_REMOVE_AUTHORIZATION", "") not in ("", "0", "false"),
        help="remove the authorization header from requests ext_authz allows",
    )
    p.add_argument(
        "--otel",
        action="store_true",
        default=env("AUTHZD_OTEL", "") not in ("", "0", "false"),
        help="OpenTelemetry traces, configured by the OTEL_* environment variables "
        "(needs authzd[otel]; also on when OTEL_TRACES_EXPORTER is set)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.workers > 1:
        return supervise(args)
    settings = Settings(
        db=args.db,
        database_url=args.database_url,
        pool_size=args.pool_size,
        listen=args.listen,
        http_listen=args.http_listen,
        threads=args.threads,
        max_concurrent_rpcs=args.max_concurrent_rpcs,
        grace_period=args.grace_period,
        session_ttl_minutes=args.session_ttl_minutes,
        cache_size=args.cache_size,
        log_level=args.log_level,
        log_format=args.log_format,
        audit_log=args.audit_log,
        preload=args.preload,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        poll_interval=args.poll_interval,
        stale_after=args.stale_after,
        reuseport=args.reuseport,
        workers=args.workers,
        ext_authz=args.ext_authz == "on",
        ext_authz_rules=args.ext_authz_rules,
        ext_authz_remove_authorization=args.ext_authz_remove_authorization,
        otel=args.otel,
    )
    configure_logging(settings.log_level, settings.log_format)
    if not settings.reuseport:  # a --workers child: its supervisor probed for the group
        try:
            probe(settings.listen)
        except PortUnavailable as exc:
            # Before the store is opened (no database file is created) and before
            # grpc tries the port (it would log its own line first).
            print(f"error: {exc}", file=sys.stderr)
            return 1
    try:
        done = asyncio.run(_serve(settings, args))
    except _CannotStart as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not done:
        # The interpreter would wait for them at exit, past the grace period.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


class _CannotStart(Exception):
    pass


async def _serve(settings: Settings, args: argparse.Namespace) -> bool:
    """Serve gRPC (and the HTTP API, as a task on the same loop) until
    SIGTERM/SIGINT; whether every handler returned."""
    log = structlog.get_logger("authzd")
    from service.domain.errors import AuthzdError
    from service.server import AuthzdServer, serve  # imported late: keeps `authzd --help` fast
    from service.store.database import NoDatabase

    if settings.http_listen != "off":
        # Imported before the server starts, whose start() moves everything
        # imported so far out of the cyclic GC's scans (gc.freeze).
        import service.http.serve  # noqa: F401
    if args.metrics_listen:
        from prometheus_client import start_http_server

        host, _, metrics_port = args.metrics_listen.rpartition(":")
        try:
            start_http_server(int(metrics_port), addr=host or "127.0.0.1")
        except (ValueError, OSError) as exc:
            raise _CannotStart(f"--metrics-listen {args.metrics_listen}: {exc}") from exc

    http_port: list[int] = []

    def setup(server: AuthzdServer) -> None:
        if args.siblings_dir:
            from service.transport.siblings import Siblings

            Siblings(args.siblings_dir).attach(server)
        if settings.audit_log == "-" and _console(settings.log_format):
            server.app.audit.sink = ConsoleAuditSink()
        if settings.http_listen != "off":
            from service.http.serve import HttpServer

            http_port.append(HttpServer(server.app, settings).attach(server))

    def serving(server: AuthzdServer) -> None:
        if not settings.tls_cert and not _loopback(settings.listen):
            log.warning(
                "plaintext_on_network",
                listen=settings.listen,
                detail="no TLS: AccessService takes no caller token, so anyone who can "
                "reach this port may ask about any token, and admin tokens cross the "
                "network in clear; serve TLS/mTLS (--tls-cert, --tls-key, "
                "--tls-client-ca) or restrict the network",
            )
        if http_port:
            log.info("serving_http", listen=settings.http_listen, port=http_port[0])
        log.info(
            "serving",
            listen=settings.listen,
            port=server.port,
            store=settings.database_url and "postgresql" or settings.db,
            metrics=args.metrics_listen or None,
        )

    # The loop's signal handlers run on the loop (a wakeup fd), whichever
    # thread the kernel hands the signal to; set before the "serving" line, so
    # a SIGTERM sent as soon as it is read stops cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await serve(settings, stop, setup=setup, serving=serving)
    except (ValueError, OSError, AuthzdError, NoDatabase) as exc:
        log.error("cannot_start", error=str(exc))
        raise _CannotStart(str(exc)) from exc
    if not server.handlers_done(timeout=0.5):
        log.warning("stopped_with_handlers_running")
        return False
    log.info("stopped")
    return True


def _console(log_format: str) -> bool:
    return log_format == "console" or (log_format == "auto" and sys.stderr.isatty())


def _loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0].removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class ConsoleAuditSink:
    """`--audit-log -` with console logs (a terminal): each audit event is
    rendered like the log lines around it instead of as raw JSON. The event is
    the same one (built, clipped and redacted by the auditor); only its form on
    the terminal changes. A file sink (`--audit-log PATH`) stays JSON."""

    def __init__(self) -> None:
        self._render = structlog.dev.ConsoleRenderer(colors=False)

    def write(self, line: str) -> None:
        event = json.loads(line)
        event.pop("event", None)
        fields = {"timestamp": event.pop("time", None), "level": "audit",
                  "event": f"{event.pop('action', '')} {event.pop('outcome', '')}".strip()}
        target = event.pop("target", None) or {}
        for key, value in target.items():
            fields[f"target_{key}"] = value
        fields.update((k, v) for k, v in event.items() if v not in (None, "", [], {}))
        text = self._render(None, "audit", {k: _safe(v) for k, v in fields.items()})
        structlog.PrintLogger(sys.stderr).msg(text)  # the log lines' lock: never interleaved

    def close(self) -> None:
        pass


class _Shown:
    """A value the console renderer prints as `text` (it prints repr() of
    anything that is not a plain string)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _safe(value: object) -> object:
    """What the JSON line escaped stays escaped: a name must not end a line or
    start another on the terminal either. Such strings, lists and objects are
    shown as JSON (ASCII)."""
    if isinstance(value, str):
        if value.isascii() and value.isprintable():
            return value
        return _Shown(json.dumps(value, ensure_ascii=True))
    if isinstance(value, list | dict):
        return _Shown(json.dumps(value, ensure_ascii=True, separators=(",", ":")))
    return value


def supervise(args: argparse.Namespace) -> int:
    """Run `--workers N` single-worker servers on one port (SO_REUSEPORT), forward
    SIGTERM/SIGINT to them, and exit when they have all stopped."""
    configure_logging(args.log_level, args.log_format)
    log = structlog.get_logger("authzd")
    try:
        if split_listen(args.listen)[1] == 0:
            raise SystemExit("error: --workers needs a fixed port in --listen")
        if args.http_listen != "off" and split_listen(args.http_listen)[1] == 0:
            raise SystemExit("error: --workers needs a fixed port in --http-listen (or off)")
        # The lock first: of two groups started together, one waits for nothing
        # and fails here; then the probe: any listener (a group, a single server,
        # another program) makes it fail. Held until the supervisor exits.
        lock = group_lock(args.listen)
        try:
            probe(args.listen)
        except PortUnavailable:
            lock.close()
            raise
    except PortUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    argv = [
        sys.executable,
        "-m",
        "service",
        "serve",
        "--workers",
        "1",
        "--reuseport",
        "--db",
        args.db,
        "--listen",
        args.listen,
        "--http-listen",
        args.http_listen,
        "--threads",
        str(args.threads),
        "--max-concurrent-rpcs",
        str(args.max_concurrent_rpcs),
        "--grace-period",
        str(args.grace_period),
        "--session-ttl-minutes",
        str(args.session_ttl_minutes),
        "--cache-size",
        str(args.cache_size),
        "--pool-size",
        str(args.pool_size),
        "--log-level",
        args.log_level,
        "--log-format",
        args.log_format,
        "--poll-interval",
        str(args.poll_interval),
        "--stale-after",
        str(args.stale_after),
        "--audit-log",
        args.audit_log,
        "--ext-authz",
        args.ext_authz,
    ]
    if args.ext_authz_rules:
        argv += ["--ext-authz-rules", args.ext_authz_rules]
    if args.ext_authz_remove_authorization:
        argv.append("--ext-authz-remove-authorization")
    if args.otel:
        argv.append("--otel")
    if not args.preload:
        argv.append("--no-preload")
    for flag, value in (
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
        ("--tls-client-ca", args.tls_client_ca),
    ):
        if value:
            argv += [flag, value]
    env = dict(os.environ)
    env.pop("AUTHZD_METRICS_LISTEN", None)  # one port cannot serve N processes' metrics
    if args.database_url:
        env["AUTHZD_DATABASE_URL"] = args.database_url  # not on the command line: secrets
    # Migrate once, before the workers race for it.
    from service.store import open_store

    open_store(args.db, args.database_url or None).close()
    # Where the workers tell each other of their writes (transport/siblings.py).
    siblings = tempfile.mkdtemp(prefix="authzd-workers-")
    argv += ["--siblings-dir", siblings]
    children = [subprocess.Popen(argv, env=env) for _ in range(args.workers)]
    log.info("workers_started", workers=args.workers, pids=[c.pid for c in children])

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    try:
        codes = [child.wait() for child in children]
    finally:
        shutil.rmtree(siblings, ignore_errors=True)
        lock.close()
    return max(codes, default=0)
