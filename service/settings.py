"""Effective server configuration: flags > environment (AUTHZD_*) > defaults.

Each setting is declared once, below, as a field of `Settings` with its
default and a `setting(...)` entry saying its flag, environment variable, help
text and whether it is a secret. Everything else derives from that table:
`authzd serve`'s argparse flags (`add_arguments`), reading the environment,
`Settings` from parsed flags (`from_args`), the flags a `--workers` supervisor
hands its workers (`worker_argv`), GetConfig's redacted view (`redacted`), and
the README's configuration table (`markdown_table`; a test keeps it current).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse, urlunparse

# How a setting appears on the command line:
VALUE = "value"  # --flag VALUE
SWITCH = "switch"  # --flag turns a False default on (env: 1/true/yes/on)
NEGATED = "negated"  # --no-<name> turns a True default off
ON_OFF = "on-off"  # --flag on|off for a bool


def setting(
    default: Any,
    help: str,
    *,
    flag: str | None = "",
    env: bool = True,
    kind: str = VALUE,
    metavar: str | None = None,
    choices: Sequence[str] | None = None,
    secret: bool = False,
    hidden: bool = False,
    shown_default: str | None = None,
    extra: tuple[str, str] | None = None,
) -> Any:
    """A Settings field and everything said about it. flag "" means --<name>;
    None means no flag (settable only by embedding code). `extra` is the
    optional install (name, module) the setting needs when set, e.g.
    ("postgres", "psycopg2") for `pip install 'authzd[postgres]'`."""
    return dataclasses.field(
        default=default,
        metadata={
            "help": help, "flag": flag, "env": env, "kind": kind, "metavar": metavar,
            "choices": tuple(choices) if choices else None, "secret": secret,
            "hidden": hidden, "shown_default": shown_default, "extra": extra,
        },
    )


@dataclass(frozen=True)
class Settings:
    db: str = setting("authzd.db", "SQLite database file (WAL, synchronous=FULL)",
                      metavar="PATH")
    database_url: str = setting(
        "", "postgresql://user:pw@host:port/db instead of SQLite (the password is a "
        "secret: redacted in logs and GetConfig, handed to workers through the environment)",
        metavar="URL", secret=True, shown_default="—", extra=("postgres", "psycopg2"))
    listen: str = setting("127.0.0.1:50051", "where to serve gRPC", metavar="HOST:PORT")
    http_listen: str = setting(
        "127.0.0.1:8086", "where to serve the InfluxDB-compatible HTTP API and the web "
        "console, with the same TLS flags as gRPC; off for nowhere", metavar="HOST:PORT")
    workers: int = setting(
        1, "server processes sharing the ports (SO_REUSEPORT; with port 0 the supervisor "
        "picks the ports they share and logs them in workers_started). A port "
        "another authzd (group) already serves is refused", metavar="N")
    threads: int = setting(
        16, "threads for admin RPCs (store writes, password hashing); CheckAccess runs on "
        "the event loop", metavar="N")
    max_concurrent_rpcs: int = setting(
        256, "RPCs in progress or queued at once; more are refused with RESOURCE_EXHAUSTED",
        metavar="N")
    # Largest request accepted, in serialized bytes (RESOURCE_EXHAUSTED with
    # ErrorInfo LIMIT_EXCEEDED above it).
    max_check_request_bytes: int = setting(
        64 * 1024, "largest CheckAccess request, bytes", metavar="N")
    max_batch_request_bytes: int = setting(
        4 * 1024 * 1024, "largest BatchCheckAccess request, bytes (sized for 10,000 checks)",
        metavar="N")
    max_admin_request_bytes: int = setting(
        1024 * 1024, "largest request of every other RPC and of the HTTP API, bytes",
        metavar="N")
    session_ttl_minutes: int = setting(60, "lifetime of sign-in sessions", metavar="N")
    cache_size: int = setting(
        200_000, "tokens kept compiled in memory (all of them are compiled at start unless "
        "--no-preload)", metavar="N")
    answer_cache_size: int = setting(
        100_000, "CheckAccess answers kept serialized (token × permission)", metavar="N")
    poll_interval: float = setting(
        0.25, "seconds between reads of the store's change signal; bounds how late another "
        "process's write is seen", metavar="S")
    stale_after: float = setting(
        5.0, "fail closed (UNAVAILABLE) when the store has been unreadable this many seconds",
        metavar="S")
    pool_size: int = setting(32, "PostgreSQL connections per process", metavar="N")
    log_level: str = setting("info", "debug, info, warning or error", metavar="LEVEL",
                             choices=("debug", "info", "warning", "error"))
    log_format: str = setting(
        "auto", "json, console, or auto: JSON lines unless stderr is a terminal",
        metavar="FORMAT", choices=("auto", "json", "console"))
    audit_log: str = setting(
        "-", "audit events as JSON lines: a file appended to, - for stderr, off for none (on "
        "a terminal, stderr's events are rendered like the log lines)", metavar="PATH")
    grace_period: float = setting(
        5.0, "on SIGTERM/SIGINT, seconds in-flight RPCs get to finish before they are "
        "cancelled", metavar="S")
    preload: bool = setting(
        True, "do not compile every token into memory at start", kind=NEGATED, env=False)
    tls_cert: str = setting("", "PEM certificate chain: serve TLS (with --tls-key)",
                            metavar="PATH", shown_default="—")
    tls_key: str = setting("", "PEM private key", metavar="PATH", shown_default="—")
    tls_client_ca: str = setting(
        "", "PEM CA bundle: require client certificates signed by it (mTLS)",
        metavar="PATH", shown_default="—")
    metrics_listen: str = setting(
        "", "serve Prometheus metrics (authzd_decisions_total{reason,source}) over HTTP here; "
        "one worker only", metavar="HOST:PORT", shown_default="off",
        extra=("metrics", "prometheus_client"))
    # Envoy ext_authz (envoy.service.auth.v3.Authorization) on the same port; the
    # rules file maps HTTP requests to permissions (service/app/ext_rules.py).
    ext_authz: bool = setting(
        True, "serve Envoy's ext_authz v3 Authorization/Check on the gRPC port (see Behind "
        "Envoy)", kind=ON_OFF)
    ext_authz_rules: str = setting(
        "", "rules mapping HTTP method and path to the permission needed (see Behind "
        "Envoy); without it only routes with the authzd_permission context extension are "
        "allowed", metavar="PATH", shown_default="—")
    ext_authz_remove_authorization: bool = setting(
        False, "remove the authorization header from requests ext_authz allows", kind=SWITCH)
    otel: bool = setting(
        False, "OpenTelemetry traces, configured by the OTEL_* environment variables (needs "
        "authzd[otel]; also on when OTEL_TRACES_EXPORTER is set; see Tracing)", kind=SWITCH)
    # Set by a --workers supervisor for its workers, never by people.
    reuseport: bool = setting(False, "share the port with sibling workers", kind=SWITCH,
                              env=False, hidden=True)
    siblings_dir: str = setting("", "where the workers tell each other of their writes",
                                env=False, hidden=True)

    def check_extras(self) -> None:
        """MissingExtra (one line) for the first setting that is set but needs an
        optional install that is not there."""
        for f in dataclasses.fields(self):
            if f.metadata["extra"] and getattr(self, f.name):
                require_extra(f.name)

    def redacted(self) -> dict[str, str]:
        """Every setting as text, with secrets (URL passwords) replaced by ***."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = redact_url(value)
            out[f.name] = str(value)
        return out


class MissingExtra(ValueError):
    """A setting is set whose optional dependencies are not installed."""


def require_extra(name: str) -> None:
    """Refuse setting `name` (a Settings field) when its extra is not installed:
    `--database-url needs authzd[postgres]: pip install 'authzd[postgres]'`."""
    f = next(f for f in dataclasses.fields(Settings) if f.name == name)
    extra, module = f.metadata["extra"]
    if importlib.util.find_spec(module) is None:
        shown = flag_of(f) or name
        raise MissingExtra(f"{shown} needs the {extra} extra ({module} is not installed): "
                           f"pip install 'authzd[{extra}]'")


def flag_of(f: dataclasses.Field[Any]) -> str | None:
    flag = f.metadata["flag"]
    if flag is None:
        return None
    if flag:
        return str(flag)
    name = f.name.replace("_", "-")
    return f"--no-{name}" if f.metadata["kind"] == NEGATED else f"--{name}"


def env_of(f: dataclasses.Field[Any]) -> str | None:
    return f"AUTHZD_{f.name.upper()}" if f.metadata["env"] else None


def env_name(name: str) -> str:
    """The environment variable of the setting `name` (recovery, backup)."""
    found = env_of(FIELDS[name])
    assert found is not None, name
    return found


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}
_TRUE = ("1", "true", "yes", "on")


def _from_env(f: dataclasses.Field[Any], environ: Mapping[str, str]) -> Any:
    """The default of a flag: the environment's value, else the field's."""
    name = env_of(f)
    text = environ.get(name) if name else None
    kind = f.metadata["kind"]
    if text is None:
        if kind == ON_OFF:
            return "on" if f.default else "off"
        return f.default
    if kind == SWITCH:
        return text.strip().lower() in _TRUE
    if kind == ON_OFF:
        return text
    converter: Any = type(f.default)
    try:
        return converter(text)
    except ValueError:
        raise SystemExit(f"error: {name}={text!r} is not a valid {converter.__name__}") from None


def split_host_port(listen: str) -> tuple[str, int] | None:
    """A HOST:PORT setting's host (IPv6 brackets removed; "" if none) and port,
    or None when it is not of that form (each flag words its own error)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        return None
    return host.removeprefix("[").removesuffix("]"), int(port)


# Which database: the two settings `database_location` decides between.
LOCATION = ("db", "database_url")


def database_location(
    db: str | None, database_url: str | None, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(SQLite path, PostgreSQL URL) of the database a command uses, for serve,
    recovery and backup alike: a flag beats the environment; with neither flag,
    AUTHZD_DATABASE_URL beats AUTHZD_DB; else ./authzd.db. The URL is "" when
    the path is meant. Both flags at once are refused (ValueError)."""
    environ = os.environ if environ is None else environ
    default = str(Settings.db)
    if db and database_url:
        raise ValueError("--db and --database-url name two databases: give one")
    if db:
        return db, ""
    if database_url:
        return default, database_url
    url = environ.get(env_name("database_url"), "")
    if url:
        return default, url
    return environ.get(env_name("db")) or default, ""


def add_arguments(
    p: Any, environ: Mapping[str, str] | None = None, only: Sequence[str] | None = None
) -> None:
    """`authzd serve`'s flags, one per setting (or the settings `only` names, e.g.
    LOCATION for the commands that open the database). `p` is a parser or an
    argument group. The database's two flags default to None: database_location
    applies the environment."""
    environ = os.environ if environ is None else environ
    for f in dataclasses.fields(Settings):
        flag = flag_of(f)
        if flag is None or (only is not None and f.name not in only):
            continue
        m = f.metadata
        env = env_of(f)
        text = m["help"] if not env else f"{m['help']} (env {env})"
        help_text = argparse.SUPPRESS if m["hidden"] else text
        kind = m["kind"]
        if kind == SWITCH:
            p.add_argument(flag, dest=f.name, action="store_true",
                           default=_from_env(f, environ), help=help_text)
        elif kind == NEGATED:
            p.add_argument(flag, dest=f.name, action="store_false", help=help_text)
        elif kind == ON_OFF:
            p.add_argument(flag, dest=f.name, choices=["on", "off"],
                           default=_from_env(f, environ), help=f"{help_text} (default "
                           f"{'on' if f.default else 'off'})" if not m["hidden"] else help_text)
        else:
            shown = "" if m["hidden"] else f" (default {f.default})" if f.default != "" else ""
            p.add_argument(
                flag, dest=f.name, type=type(f.default),
                default=None if f.name in LOCATION else _from_env(f, environ),
                metavar=m["metavar"], choices=m["choices"],
                help=help_text if m["hidden"] else help_text + shown,
            )


def from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from parsed `add_arguments` flags (ValueError for both database
    flags at once)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        if f.metadata["kind"] == ON_OFF:
            value = value == "on"
        values[f.name] = value
    if "db" in values:
        values["db"], values["database_url"] = database_location(
            values["db"], values.get("database_url"), environ)
    return Settings(**values)


def worker_argv(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The flags (and environment) a `--workers` supervisor gives each worker to
    run with exactly `settings`: every flag, so that nothing is left to the
    environment the worker inherits; secrets go through the environment, not
    the command line."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for f in dataclasses.fields(Settings):
        flag = flag_of(f)
        if flag is None:
            continue
        value = getattr(settings, f.name)
        kind = f.metadata["kind"]
        if f.name == "db" and settings.database_url:
            continue  # --db would beat the URL the worker finds in its environment
        if f.metadata["secret"]:
            env[env_name(f.name)] = str(value)
        elif kind == SWITCH:
            argv += [flag] if value else []
        elif kind == NEGATED:
            argv += [] if value else [flag]
        elif kind == ON_OFF:
            argv += [flag, "on" if value else "off"]
        else:
            argv += [flag, str(value)]
    return argv, env


def markdown_table() -> str:
    """README's table of `authzd serve` flags (a test keeps the README current)."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        flag = flag_of(f)
        m = f.metadata
        if flag is None or m["hidden"]:
            continue
        env = env_of(f)
        if m["kind"] == ON_OFF:
            shown_flag = f"`{flag} on\\|off`"
        elif m["kind"] in (SWITCH, NEGATED):
            shown_flag = f"`{flag}`"
        else:
            shown_flag = f"`{flag} {m['metavar'] or 'VALUE'}`"
        if env:
            shown_flag += f" (`{env}`)"
        if m["shown_default"] is not None:
            default = m["shown_default"]
        elif m["kind"] == ON_OFF:
            default = "`on`" if f.default else "`off`"
        elif m["kind"] == NEGATED or m["kind"] == SWITCH:
            default = "off"
        else:
            default = f"`{f.default}`"
        meaning = m["help"].replace("|", "\\|")
        if m["extra"]:
            meaning += f" (needs `authzd[{m['extra'][0]}]`)"
        rows.append(f"| {shown_flag} | {default} | {meaning} |")
    rows.append("| `--version` | | print the version and exit |")
    return "\n".join(rows) + "\n"


def split_password(
    url: str, *, mask: str | None = None, params: Sequence[str] = ("password",)
) -> tuple[str, str | None]:
    """A database URL's password and the URL without it: the one place that
    knows where a libpq URL keeps secrets (the userinfo, or a query parameter
    named in `params`). With `mask` the secrets are replaced by it instead of
    removed. The rest, IPv6 brackets and escapes included, is kept as written."""
    parsed = urlparse(url)
    password = None
    netloc = parsed.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        user, _, password = userinfo.partition(":")
        password = unquote(password)
        netloc = f"{user}:{mask}@{hostport}" if mask is not None else f"{user}@{hostport}"
    kept = []
    for part in parsed.query.split("&"):
        key, sep, value = part.partition("=")
        if not part:
            continue
        if key.lower() not in params:
            kept.append(part)
            continue
        if key.lower() == "password":
            password = unquote(value)
        if mask is not None:
            kept.append(f"{key}={mask}")
    return urlunparse(parsed._replace(netloc=netloc, query="&".join(kept))), password


def redact_url(url: str) -> str:
    """The URL as logs and GetConfig show it: every secret (the password, and
    the client key's sslpassword) replaced by ***."""
    return split_password(url, mask="***", params=("password", "sslpassword"))[0]
