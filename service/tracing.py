"""OpenTelemetry traces (optional extra `authzd[otel]`).

Off unless `--otel` or OTEL_TRACES_EXPORTER is set; configured by the standard
OTEL_* variables (OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES,
OTEL_TRACES_EXPORTER = otlp | console | none, OTEL_EXPORTER_OTLP_PROTOCOL = grpc |
http/protobuf and the exporters' own OTEL_EXPORTER_OTLP_* settings,
OTEL_TRACES_SAMPLER / _ARG).

No interceptor: `Tracing.wrap` wraps a handler once, at registration, and only
when tracing is on, so tracing off costs nothing per call. Admin RPCs are always
recorded (unless the incoming parent says not sampled); CheckAccess and ext_authz
Check are recorded as the configured sampler says. The parent comes from the
W3C `traceparent` in the call's metadata. Attributes: method, status code,
decision reason, authorization id; never a token.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import grpc

Handler = Callable[[Any, grpc.ServicerContext], Any]
# Annotates the current span from a handler's response (hot paths, recording only).
Annotate = Callable[[Any, Any], None]
# The W3C trace headers carried inside a request, when its metadata has none.
CarrierOf = Callable[[Any], dict[str, str]]

REASON = "authzd.decision.reason"
AUTHORIZATION_ID = "authzd.authorization_id"


def enabled(flag: bool) -> bool:
    return flag or bool(os.environ.get("OTEL_TRACES_EXPORTER"))


class Tracing:
    """Two tracers over one pipeline: `admin` samples everything (parent-based),
    `hot` follows the configured sampler."""

    def __init__(self, admin_provider: Any, hot_provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self.admin = admin_provider.get_tracer("authzd")
        self.hot = hot_provider.get_tracer("authzd")
        self.providers = (admin_provider, hot_provider)
        self._propagator = TraceContextTextMapPropagator()
        self._server = trace.SpanKind.SERVER

    @classmethod
    def with_processor(cls, processor: Any, sampler: Any = None) -> Tracing:
        """Both providers exporting through `processor` (tests: an in-memory one)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME")
                                    or "authzd"})
        admin = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_ON))
        hot = TracerProvider(resource=resource, sampler=sampler)  # None: from OTEL_*
        admin.add_span_processor(processor)
        hot.add_span_processor(processor)
        return cls(admin, hot)

    def shutdown(self) -> None:
        self.providers[0].shutdown()  # shuts the shared processor (flushes) too

    def _parent(self, request: Any, context: grpc.ServicerContext,
                carrier_of: CarrierOf | None) -> Any:
        carrier = {}
        for key, value in context.invocation_metadata() or ():
            if key in ("traceparent", "tracestate") and isinstance(value, str):
                carrier[key] = value
        if not carrier and carrier_of is not None:
            carrier = carrier_of(request)
        return self._propagator.extract(carrier) if carrier else None

    def wrap(self, handler: Handler, method: str, *, hot: bool,
             annotate: Annotate | None = None,
             carrier_of: CarrierOf | None = None) -> Handler:
        """`handler` inside a SERVER span named after `method` ("Service/Method"),
        the child of the `traceparent` in the call's metadata, else of the one
        `carrier_of(request)` finds (ext_authz: the HTTP request's headers)."""
        tracer = self.hot if hot else self.admin
        service, _, name = method.partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        server = self._server

        def span(request: Any, context: Any) -> Any:
            return tracer.start_as_current_span(
                method, context=self._parent(request, context, carrier_of), kind=server,
                attributes=attributes,
                record_exception=False, set_status_on_exception=False,
            )

        def finish(span: Any, context: Any, response: Any, failed: bool) -> None:
            if span.is_recording():
                code = _code(context, failed)
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if annotate is not None and response is not None:
                    annotate(span, response)
                if code is not grpc.StatusCode.OK:
                    span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))

        if inspect.iscoroutinefunction(handler):
            # An asyncio handler (CheckAccess, ext_authz Check on the event loop):
            # the span is current in this call's task only.
            @functools.wraps(handler)
            async def traced_async(request: Any, context: Any) -> Any:
                with span(request, context) as current:
                    response, failed = None, True
                    try:
                        response = await handler(request, context)
                        failed = False
                        return response
                    finally:
                        finish(current, context, response, failed)

            return traced_async

        @functools.wraps(handler)
        def traced(request: Any, context: Any) -> Any:
            with span(request, context) as current:
                response, failed = None, True
                try:
                    response = handler(request, context)
                    failed = False
                    return response
                finally:
                    finish(current, context, response, failed)

        return traced


class HttpSpans:
    """Spans of the HTTP API's requests (service/http/app.py): one SERVER span per
    request, named `<METHOD> <route>`, the child of the request's W3C
    `traceparent`; recorded like the admin RPCs (parent-based, always on)."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    @contextlib.contextmanager
    def span(self, method: str, route: str, headers: Mapping[str, str]) -> Iterator[Any]:
        t = self._tracing
        carrier = {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}
        parent = t._propagator.extract(carrier) if carrier else None
        with t.admin.start_as_current_span(
            f"{method} {route}", context=parent, kind=t._server,
            attributes={"http.request.method": method, "http.route": route},
            record_exception=False, set_status_on_exception=False,
        ) as span:
            yield span

    def finish(self, span: Any, status: int, reason: str, authorization_id: str) -> None:
        if not span.is_recording():
            return
        span.set_attribute("http.response.status_code", status)
        if reason:
            span.set_attribute(REASON, reason)
        if authorization_id:
            span.set_attribute(AUTHORIZATION_ID, authorization_id)
        if status >= 500:
            span.set_status(self._tracing._trace.Status(self._tracing._trace.StatusCode.ERROR))


def _code(context: Any, failed: bool) -> grpc.StatusCode:
    """The call's status code so far: what the handler set or aborted with
    (grpc.aio's context and transport.threads.ThreadContext both answer
    code()); an exception with none set is UNKNOWN."""
    code = context.code()
    if isinstance(code, int):  # grpc.aio reports the cygrpc integer
        code = next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if code is None:
        return grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    return code


def annotate_current(**attributes: str) -> None:
    """Attributes on the current span, if it is recording (empty values left out)."""
    if _active is None:
        return
    span = _active.get_current_span()
    if span.is_recording():
        for key, value in attributes.items():
            if value:
                span.set_attribute(_ATTRIBUTE_NAMES.get(key, key), value)


_ATTRIBUTE_NAMES = {"reason": REASON, "authorization_id": AUTHORIZATION_ID}


def trace_id() -> str | None:
    """The current span's trace id (32 hex), when tracing is on and sampling."""
    if _active is None:
        return None
    ctx = _active.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid and ctx.trace_flags.sampled else None


_active: Any = None  # the opentelemetry.trace module once tracing is on


def add_trace_id(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the trace id on lines written inside a span."""
    if _active is not None and "trace_id" not in event:
        tid = trace_id()
        if tid:
            event["trace_id"] = tid
    return event


def _exporter() -> Any:
    name = (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip()
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: authzd knows otlp, console, none")
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    else:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: grpc or http/protobuf")
    return OTLPSpanExporter()


def from_environment(flag: bool) -> Tracing | None:
    """The process's tracing per --otel and OTEL_*; None when off. ValueError
    (one line) when asked for but the extra is missing or the settings are bad."""
    if not enabled(flag):
        return None
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ValueError("--otel needs the otel extra: pip install 'authzd[otel]'") from None
    exporter = _exporter()
    if exporter is None:
        from opentelemetry.sdk.trace import SpanProcessor

        processor = SpanProcessor()  # records, exports nowhere
    else:
        processor = BatchSpanProcessor(exporter)
    return activate(Tracing.with_processor(processor))


def activate(tracing: Tracing) -> Tracing:
    """Let log lines carry the trace id (see add_trace_id)."""
    global _active
    _active = tracing._trace
    return tracing
