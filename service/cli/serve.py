"""`authzd serve`: run the server until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import threading

import structlog

from service.logs import configure_logging
from service.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = Settings()
    p = sub.add_parser("serve", help="run the authzd server")
    env = os.environ.get
    p.add_argument("--db", default=env("AUTHZD_DB", d.db),
                   help=f"SQLite database file (default {d.db}; env AUTHZD_DB)")
    p.add_argument("--database-url", default=env("AUTHZD_DATABASE_URL", ""),
                   help="postgresql://user:password@host:port/db instead of SQLite "
                        "(env AUTHZD_DATABASE_URL)")
    p.add_argument("--listen", default=env("AUTHZD_LISTEN", d.listen),
                   help=f"HOST:PORT to listen on (default {d.listen}; env AUTHZD_LISTEN)")
    p.add_argument("--threads", type=int, default=int(env("AUTHZD_THREADS", d.threads)),
                   help=f"RPC worker threads (default {d.threads})")
    p.add_argument("--session-ttl-minutes", type=int,
                   default=int(env("AUTHZD_SESSION_TTL_MINUTES", d.session_ttl_minutes)),
                   help=f"sign-in session lifetime (default {d.session_ttl_minutes})")
    p.add_argument("--cache-size", type=int, default=int(env("AUTHZD_CACHE_SIZE", d.cache_size)),
                   help=f"tokens kept in memory (default {d.cache_size})")
    p.add_argument("--log-level", default=env("AUTHZD_LOG_LEVEL", d.log_level),
                   choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default=env("AUTHZD_LOG_FORMAT", d.log_format),
                   choices=["auto", "json", "console"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings(
        db=args.db,
        database_url=args.database_url,
        listen=args.listen,
        threads=args.threads,
        session_ttl_minutes=args.session_ttl_minutes,
        cache_size=args.cache_size,
        log_level=args.log_level,
        log_format=args.log_format,
    )
    configure_logging(settings.log_level, settings.log_format)
    log = structlog.get_logger("authzd")
    from service.server import build_server  # imported late: keeps `authzd --help` fast

    server, port = build_server(settings)
    server.start()
    store = settings.database_url and "postgresql" or settings.db
    log.info("serving", listen=settings.listen, port=port, store=store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping", grace_seconds=settings.grace_period)
    server.stop(settings.grace_period)
    log.info("stopped")
    return 0
