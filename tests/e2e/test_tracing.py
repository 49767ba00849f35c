"""OpenTelemetry spans, recorded with the SDK's in-memory exporter: admin RPCs,
CheckAccess and ext_authz Check, the parent from an incoming `traceparent`, the
attributes (never a token), and the trace id on the request's log line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from authzd.v1 import access_service_pb2, authorization_service_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.server import build_server
from service.settings import Settings
from service.tracing import Tracing, activate, add_trace_id
from tests.conftest import FAST_HASHER, Admin, Client, md, setup_admin
from tests.e2e.test_access import BUCKETS, W, perm
from tests.e2e.test_ext_authz import RULES, Envoyish
from tests.serving import ServeProcess

WRITE = "/api/v2/write?org=acme&bucket=telemetry"


class Traced:
    def __init__(self, tmp: Path, clock: Any, sampler: Any) -> None:
        self.spans = InMemorySpanExporter()
        tracing = activate(Tracing.with_processor(SimpleSpanProcessor(self.spans), sampler))
        settings = Settings(listen="127.0.0.1:0", db=str(tmp / "a.db"),
                            ext_authz_rules=str(RULES), audit_log="off")
        self.server, port = build_server(settings, clock=clock, hasher=FAST_HASHER,
                                         tracing=tracing)
        self.server.start()
        self.client = Client.connect(f"127.0.0.1:{port}")
        self.envoy = Envoyish(self.client.channel)
        self.admin: Admin = setup_admin(self.client)
        created = self.client.auths.CreateAuthorization(
            authorization_service_pb2.CreateAuthorizationRequest(
                org_id=self.admin.org_id, permissions=[perm(W, BUCKETS, self.admin.org_id)]
            ),
            metadata=md(self.admin.token),
        )
        self.token, self.auth_id = created.token, created.authorization.id

    def named(self, name: str) -> list[Any]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def close(self) -> None:
        self.client.channel.close()
        self.server.stop(0)


@pytest.fixture
def traced(tmp_path: Path, clock) -> Iterator[Traced]:  # type: ignore[no-untyped-def]
    t = Traced(tmp_path, clock, ALWAYS_ON)
    try:
        yield t
    finally:
        t.close()


def outer_span() -> tuple[Any, tuple[tuple[str, str], ...]]:
    """A client-side span and the metadata carrying it."""
    tracer = TracerProvider(sampler=ALWAYS_ON).get_tracer("test")
    span = tracer.start_span("client")
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(span))
    return span, tuple(carrier.items())


def test_admin_rpcs_have_spans_with_method_code_and_caller(traced: Traced) -> None:
    (setup,) = traced.named("SetupService/Setup")
    assert setup.kind == trace.SpanKind.SERVER
    assert setup.attributes["rpc.system"] == "grpc"
    assert setup.attributes["rpc.method"] == "Setup"
    assert setup.attributes["rpc.grpc.status_code"] == 0
    (create,) = traced.named("AuthorizationService/CreateAuthorization")
    assert create.attributes["authzd.authorization_id"] == traced.admin.authorization_id
    with pytest.raises(grpc.RpcError):
        traced.client.auths.CreateAuthorization(
            authorization_service_pb2.CreateAuthorizationRequest(org_id=traced.admin.org_id),
            metadata=md("nope"),
        )
    failed = traced.named("AuthorizationService/CreateAuthorization")[-1]
    assert failed.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert failed.attributes["authzd.decision.reason"] == "UNAUTHENTICATED"
    assert not failed.status.is_ok


def test_check_access_span_is_a_child_of_the_callers_span(traced: Traced) -> None:
    parent, metadata = outer_span()
    r = traced.client.access.CheckAccess(
        access_service_pb2.CheckAccessRequest(
            token=traced.token, permission=perm(W, BUCKETS, traced.admin.org_id)
        ),
        metadata=metadata,
    )
    assert r.allowed
    (span,) = traced.named("AccessService/CheckAccess")
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes["authzd.decision.reason"] == "ALLOWED"
    assert span.attributes["authzd.authorization_id"] == traced.auth_id


def test_ext_authz_check_span_parent_and_attributes(traced: Traced) -> None:
    parent, metadata = outer_span()
    call = traced.envoy.call
    from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb

    req = ext_pb.CheckRequest()
    req.attributes.request.http.method = "POST"
    req.attributes.request.http.path = WRITE
    req.attributes.request.http.headers["authorization"] = f"Token {traced.token}"
    assert call(req, metadata=metadata, timeout=5).status.code == 0
    (span,) = traced.named("Authorization/Check")
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes["authzd.decision.reason"] == "ALLOWED"
    assert span.attributes["authzd.authorization_id"] == traced.auth_id

    # No traceparent in the metadata: the one in the HTTP request's headers.
    other, carried = outer_span()
    r = traced.envoy.check("POST", WRITE, traced.token, traceparent=dict(carried)["traceparent"])
    assert r.status.code == 0
    child = traced.named("Authorization/Check")[-1]
    assert child.parent is not None and child.parent.span_id == other.get_span_context().span_id

    r = traced.envoy.check("POST", WRITE, "not-a-token")
    assert r.denied_response.status.code == 401
    denied = traced.named("Authorization/Check")[-1]
    assert denied.attributes["authzd.decision.reason"] == "TOKEN_UNKNOWN"


def test_no_token_in_any_span(traced: Traced) -> None:
    traced.envoy.check("POST", WRITE, traced.token)
    traced.client.access.CheckAccess(
        access_service_pb2.CheckAccessRequest(
            token=traced.token, permission=perm(W, BUCKETS, traced.admin.org_id)
        )
    )
    spans = traced.spans.get_finished_spans()
    assert len(spans) >= 4
    for span in spans:
        for value in span.attributes.values():
            for secret in (traced.token, traced.admin.token):
                assert secret not in str(value)


def test_hot_path_follows_the_sampler_admin_does_not(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    t = Traced(tmp_path, clock, ALWAYS_OFF)
    try:
        t.client.access.CheckAccess(
            access_service_pb2.CheckAccessRequest(
                token=t.token, permission=perm(W, BUCKETS, t.admin.org_id)
            )
        )
        t.envoy.check("POST", WRITE, t.token)
        names = {s.name for s in t.spans.get_finished_spans()}
        assert "SetupService/Setup" in names
        assert "AccessService/CheckAccess" not in names
        assert "Authorization/Check" not in names
    finally:
        t.close()


def test_trace_id_processor_adds_the_current_trace() -> None:
    activate(Tracing.with_processor(SimpleSpanProcessor(InMemorySpanExporter())))
    tracer = TracerProvider(sampler=ALWAYS_ON).get_tracer("test")
    assert "trace_id" not in add_trace_id(None, "info", {"event": "x"})
    with tracer.start_as_current_span("s") as span:
        event = add_trace_id(None, "info", {"event": "x"})
    assert event["trace_id"] == f"{span.get_span_context().trace_id:032x}"


def test_serve_with_otel_logs_the_trace_id(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHZD_", "OTEL_"))}
    env["OTEL_TRACES_EXPORTER"] = "console"
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--audit-log", "off"],
                                env, tmp_path)
    try:
        client = Client.connect(server.target)
        setup_admin(client)
        client.channel.close()
    finally:
        assert server.stop() == 0
    lines = [json.loads(x) for x in server.stderr_lines if x.startswith("{")]
    (line,) = [x for x in lines if x.get("event") == "rpc"
               and x.get("method") == "SetupService/Setup"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])


def test_off_unless_asked_and_clear_errors_when_asked_wrongly(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from service.tracing import from_environment

    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert from_environment(False) is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin-thrift")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='zipkin-thrift'"):
        from_environment(False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    tracing = from_environment(False)
    assert isinstance(tracing, Tracing)
    tracing.shutdown()
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace.export", None)
    with pytest.raises(ValueError, match=r"pip install 'authzd\[otel\]'"):
        from_environment(True)
