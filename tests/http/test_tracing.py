"""OpenTelemetry spans for HTTP API requests (issue 12): one SERVER span per
request, the parent from the request's W3C `traceparent`, attributes for the
route, status, decision reason and caller's authorization id, never a token."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.http.serve import HttpServer
from service.server import build_server
from service.settings import Settings
from service.tracing import Tracing, activate
from tests.conftest import FAST_HASHER, Client, setup_admin


@pytest.fixture
def traced_http(tmp_path: Path, clock: Any) -> Iterator[tuple[str, Any, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    tracing = activate(Tracing.with_processor(SimpleSpanProcessor(spans), ALWAYS_ON))
    settings = Settings(listen="127.0.0.1:0", db=str(tmp_path / "a.db"), audit_log="off")
    server, port = build_server(settings, clock=clock, hasher=FAST_HASHER, tracing=tracing)
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    admin = setup_admin(client)
    http = HttpServer(server.app, dataclasses.replace(settings, http_listen="127.0.0.1:0"))
    http_port = http.start()
    try:
        yield f"http://127.0.0.1:{http_port}", admin, spans
    finally:
        http.stop(0)
        client.channel.close()
        server.stop(0)


def test_http_requests_have_spans(traced_http: tuple[str, Any, InMemorySpanExporter]) -> None:
    url, admin, spans = traced_http
    outer = TracerProvider(sampler=ALWAYS_ON).get_tracer("test").start_span("client")
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(outer))
    headers = {"Authorization": f"Token {admin.token}", **carrier}
    with httpx.Client(base_url=url, headers=headers) as c:
        assert c.get("/api/v2/orgs").status_code == 200
        assert c.get("/api/v2/orgs/0f0f0f0f0f0f0f0f").status_code == 404
    with httpx.Client(base_url=url) as c:
        assert c.get("/api/v2/orgs").status_code == 401
    got = [s for s in spans.get_finished_spans() if s.name == "GET /api/v2/orgs"]
    listed = got[0]
    assert listed.kind == trace.SpanKind.SERVER
    assert listed.parent is not None
    assert listed.parent.trace_id == outer.get_span_context().trace_id
    assert listed.attributes["http.request.method"] == "GET"
    assert listed.attributes["http.route"] == "/api/v2/orgs"
    assert listed.attributes["http.response.status_code"] == 200
    assert listed.attributes["authzd.authorization_id"] == admin.authorization_id
    (missing,) = [s for s in spans.get_finished_spans() if s.name == "GET /api/v2/orgs/{orgID}"]
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.attributes["authzd.decision.reason"] == "ORGANIZATION_NOT_FOUND"
    unauthenticated = got[1]
    assert unauthenticated.attributes["http.response.status_code"] == 401
    assert unauthenticated.parent is None
    for span in spans.get_finished_spans():
        assert admin.token not in repr(dict(span.attributes or {}))
