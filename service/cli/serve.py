"""`authzd serve`: run the server until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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
from service.settings import Settings, add_arguments, from_args, worker_argv

from .ports import PortUnavailable, group_lock, probe, reserve


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the authzd server")
    p.add_argument("--version", action="version", version=f"authzd {__version__}")
    add_arguments(p)  # one flag per setting (service/settings.py)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    try:
        settings = from_args(args)
        settings.check_extras()  # one line, before anything starts
    except ValueError as exc:  # MissingExtra, or --db with --database-url
        raise SystemExit(f"error: {exc}") from None
    if args.workers > 1:
        return supervise(settings)
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
        done = asyncio.run(_serve(settings))
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


async def _serve(settings: Settings) -> bool:
    """Serve (service.server.serve: gRPC, the HTTP API, ...) until SIGTERM/SIGINT;
    whether every handler returned."""
    log = structlog.get_logger("authzd")
    from service.domain.errors import AuthzdError
    from service.server import serve  # imported late: keeps `authzd --help` fast
    from service.store.database import NoDatabase

    console_audit = settings.audit_log == "-" and _console(settings.log_format)
    # The loop's signal handlers run on the loop (a wakeup fd), whichever
    # thread the kernel hands the signal to; set before the "serving" line, so
    # a SIGTERM sent as soon as it is read stops cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await serve(
            settings, stop, audit_sink=ConsoleAuditSink() if console_audit else None)
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


def supervise(settings: Settings) -> int:
    """Run `--workers N` single-worker servers on one port (SO_REUSEPORT), forward
    SIGTERM/SIGINT to them, and exit when they have all stopped."""
    configure_logging(settings.log_level, settings.log_format)
    log = structlog.get_logger("authzd")
    held = []
    try:
        # Port 0: the supervisor picks the port and holds it; the workers share it.
        listen, grpc_held = reserve(settings.listen)
        held.append(grpc_held)
        http_listen = settings.http_listen
        if http_listen != "off":
            http_listen, http_held = reserve(http_listen)
            held.append(http_held)
        settings = dataclasses.replace(settings, listen=listen, http_listen=http_listen)
        # The lock first: of two groups started together, one waits for nothing
        # and fails here; then the probe: any listener (a group, a single server,
        # another program) makes it fail. Held until the supervisor exits.
        lock = group_lock(settings.listen)
        try:
            probe(settings.listen)
        except PortUnavailable:
            lock.close()
            raise
    except PortUnavailable as exc:
        for s in held:
            if s is not None:
                s.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # Migrate once, before the workers race for it.
    from service.store import open_store

    open_store(settings.db, settings.database_url or None).close()
    # Where the workers tell each other of their writes (transport/siblings.py).
    siblings = tempfile.mkdtemp(prefix="authzd-workers-")
    # Each worker: the same settings, one process, sharing the ports; no metrics
    # (one port cannot serve N processes' counters).
    flags, secrets = worker_argv(dataclasses.replace(
        settings, workers=1, reuseport=True, siblings_dir=siblings, metrics_listen=""))
    argv = [sys.executable, "-m", "service", "serve", *flags]
    env = {**os.environ, **secrets}
    children = [subprocess.Popen(argv, env=env) for _ in range(settings.workers)]
    log.info("workers_started", workers=settings.workers, pids=[c.pid for c in children],
             listen=settings.listen, http_listen=settings.http_listen)

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
        for s in held:
            if s is not None:
                s.close()
    return max(codes, default=0)
