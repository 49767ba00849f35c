"""Effective server configuration: flags > environment (AUTHZD_*) > defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse


@dataclass(frozen=True)
class Settings:
    db: str = "authzd.db"
    database_url: str = ""
    listen: str = "127.0.0.1:50051"
    # The InfluxDB-compatible HTTP API (service/http); "off" disables it.
    http_listen: str = "127.0.0.1:8086"
    workers: int = 1
    threads: int = 16
    # RPCs in progress at once (queued for a worker thread included); the excess
    # is refused with RESOURCE_EXHAUSTED by grpc.
    max_concurrent_rpcs: int = 256
    # Largest request accepted, in serialized bytes (RESOURCE_EXHAUSTED with
    # ErrorInfo LIMIT_EXCEEDED above it): CheckAccess, BatchCheckAccess (sized for
    # 10,000 checks), every other RPC.
    max_check_request_bytes: int = 64 * 1024
    max_batch_request_bytes: int = 4 * 1024 * 1024
    max_admin_request_bytes: int = 1024 * 1024
    session_ttl_minutes: int = 60
    cache_size: int = 200_000
    poll_interval: float = 0.25
    stale_after: float = 5.0
    pool_size: int = 32
    log_level: str = "info"
    log_format: str = "auto"
    # Where audit events go: a file (appended), "-" for stderr, "off" for nowhere.
    audit_log: str = "-"
    grace_period: float = 5.0
    preload: bool = True
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    reuseport: bool = False
    # Envoy ext_authz (envoy.service.auth.v3.Authorization) on the same port; the
    # rules file maps HTTP requests to permissions (service/app/ext_rules.py);
    # optionally strip the client's authorization header before the upstream.
    ext_authz: bool = True
    ext_authz_rules: str = ""
    ext_authz_remove_authorization: bool = False
    # OpenTelemetry traces (needs the `otel` extra); also on when the environment
    # sets OTEL_TRACES_EXPORTER.
    otel: bool = False

    def redacted(self) -> dict[str, str]:
        """Every setting as text, with secrets (URL passwords) replaced by ***."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "database_url" and value:
                value = redact_url(value)
            out[f.name] = str(value)
        return out


_SECRET_PARAMS = {"password", "sslpassword"}


def redact_url(url: str) -> str:
    """The URL with its password (in the userinfo or as a libpq query parameter)
    replaced by ***; the rest, IPv6 brackets included, kept as written."""
    parsed = urlparse(url)
    netloc = parsed.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = "&".join(
        f"{k}=***" if k.lower() in _SECRET_PARAMS else f"{k}={v}" if sep else k
        for k, sep, v in (part.partition("=") for part in parsed.query.split("&") if part)
    )
    return urlunparse(parsed._replace(netloc=netloc, query=query))
