"""Prometheus metrics, an optional install (`pip install 'authzd[metrics]'`).

Without prometheus_client the counters count nothing (the hot path still calls
them, at the cost of a no-op) and `--metrics-listen` is refused at start with
one line (settings.require_extra)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from service.settings import require_extra, split_host_port

prometheus_client: ModuleType | None
try:
    import prometheus_client
except ImportError:  # the metrics extra is not installed
    prometheus_client = None


class _Uncounted:
    """A counter (and its labelled children) that counts nothing."""

    def labels(self, *values: str) -> _Uncounted:
        return self

    def inc(self, amount: float = 1) -> None:
        pass


def counter(name: str, documentation: str, labels: list[str]) -> Any:
    if prometheus_client is None:
        return _Uncounted()
    return prometheus_client.Counter(name, documentation, labels)


def start_metrics(listen: str) -> int:
    """Serve /metrics on HOST:PORT (a thread of prometheus_client's); the bound
    port (port 0 picks one)."""
    require_extra("metrics_listen")
    assert prometheus_client is not None
    found = split_host_port(listen)
    if found is None:
        raise ValueError("expected HOST:PORT")
    host, port = found
    started = prometheus_client.start_http_server(port, addr=host or "127.0.0.1")
    # prometheus_client returns (server, thread) since 0.17; older ones nothing.
    return int(started[0].server_port) if started else port


DECISIONS = counter(
    "authzd_decisions_total",
    "Decisions by reason and source (CheckAccess, or ext_authz for Envoy's Check)",
    ["reason", "source"],
)
