"""The HTTP API as an ASGI app: `create_http_app(app)`.

Every endpoint is a row of handlers.ENDPOINTS. One wrapper (`_dispatch`) does
for each row what transport/rpc.py does for each RPC: request id, caller
authentication (and the cookie's cross-site rule), error -> status mapping, one
log line, the audit event. Handlers only convert JSON <-> domain and call the
use cases in service/app, so no rule is written twice; they are synchronous
(peewee, argon2) and run in the threadpool, never on the event loop.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from service.app.audit import DENIED, outcome_of
from service.app.caller import Caller, authenticate, token_from_header
from service.app.context import App
from service.domain.errors import (
    AuthzdError,
    InvalidArgument,
    Unauthenticated,
)
from service.tracing import HttpSpans

from . import shapes
from .call import COOKIE, SAFE_METHODS, VERSION, Call, Endpoint, Json
from .errors import HttpError, cross_site, http_field, status_of, too_large
from .handlers import ENDPOINTS

__all__ = ["ENDPOINTS", "create_http_app"]

log = structlog.get_logger("authzd.http")

# -- the wrapper -----------------------------------------------------------------------------


def _authenticate(app: App, call: Call) -> Caller:
    header = call.headers.get("authorization")
    if token_from_header(header) is not None:
        return authenticate(app.access, header, app.clock.time())
    if call.cookie_token:
        # A browser sends the cookie on any request to this origin: an unsafe
        # method must come from this origin's own pages.
        if call.method not in SAFE_METHODS:
            site = call.headers.get("sec-fetch-site")
            origin = call.headers.get("origin")
            if (site is not None and site != "same-origin") or (
                origin is not None and origin != call.origin
            ):
                raise cross_site()
        return authenticate(app.access, "Token " + call.cookie_token, app.clock.time())
    raise Unauthenticated()


def _error_body(status: int, code: str, message: str) -> tuple[int, Json]:
    return status, {"code": code, "message": message}


def _dispatch(app: App, ep: Endpoint, call: Call, request_id: str, peer: str) -> Response:
    """One request, in a span when tracing is on (its log line then has the
    trace id)."""
    if app.tracing is None:
        return _handle(app, ep, call, request_id, peer)
    spans = HttpSpans(app.tracing)
    with spans.span(ep.method, ep.path, call.headers) as span:
        response = _handle(app, ep, call, request_id, peer)
        caller = call.caller.authorization_id if call.caller is not None else ""
        spans.finish(span, response.status_code, response.headers.get("x-authzd-reason", ""),
                     caller)
        return response


def _handle(app: App, ep: Endpoint, call: Call, request_id: str, peer: str) -> Response:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=request_id, method=f"{ep.method} {ep.path}", peer=peer
    )
    start = time.perf_counter()
    err: AuthzdError | HttpError | None = None
    try:
        if call.body_error is not None:
            raise call.body_error
        if ep.auth == "token":
            call.caller = _authenticate(app, call)
            structlog.contextvars.bind_contextvars(
                caller_authorization=call.caller.authorization_id,
                caller_user=call.caller.user_id,
            )
        status, payload = ep.handler(app, call)
    except HttpError as exc:
        err = exc
        status, payload = _error_body(exc.status, exc.code, exc.message)
    except AuthzdError as exc:
        err = exc
        status, code, message = status_of(exc)
        payload = {"code": code, "message": message}
    except Exception:
        log.exception("http_failed")
        err = AuthzdError("internal error; see the server log for request " + request_id)
        status, code, message = status_of(err)
        payload = {"code": code, "message": message}
    reason = err.reason if err is not None else ""
    log.info("http", status=status, duration_ms=round((time.perf_counter() - start) * 1000, 3),
             **({"reason": reason} if reason else {}))
    _audit(app, ep, call, status, err)
    headers = {"x-request-id": request_id}
    if err is not None and reason:
        headers["x-authzd-reason"] = reason
    if isinstance(err, InvalidArgument):
        headers["x-authzd-field"] = http_field(err.field)
    if call.set_cookie is not None and err is None:
        headers["set-cookie"] = call.set_cookie
    if payload is None:
        return Response(status_code=status, headers=headers)
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def _audit(app: App, ep: Endpoint, call: Call, status: int,
           err: AuthzdError | HttpError | None) -> None:
    if not ep.action or not app.audit.enabled:
        return
    if isinstance(err, HttpError):
        code = "PERMISSION_DENIED" if err.status == 403 else (
            "RESOURCE_EXHAUSTED" if err.status == 413 else "INVALID_ARGUMENT")
    else:
        code = err.code.value if err is not None else "OK"
    outcome = outcome_of(code)
    if not ep.write and outcome != DENIED:
        return
    reason = "ERROR_REASON_" + err.reason if err is not None else ""
    app.audit.record(ep.action, call.target, outcome, reason, transport="http", **call.fields)


async def _read_body(request: Request, limit: int) -> tuple[Any, Exception | None]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None, too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None, too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, InvalidArgument("body", "is not valid JSON")


def create_http_app(app: App, *, started: datetime | None = None) -> Starlette:
    """The ASGI app serving ENDPOINTS for `app` (plus /ping, /ready and the OpenAPI
    document)."""
    from . import console
    from .openapi import document

    limit = app.settings.max_admin_request_bytes
    started = started or datetime.now(UTC)
    spec = json.dumps(document(ENDPOINTS)).encode()

    def route(ep: Endpoint) -> Route:
        async def endpoint(request: Request) -> Response:
            body, body_error = None, None
            if ep.method not in SAFE_METHODS:
                body, body_error = await _read_body(request, limit)
            host = request.headers.get("host", "")
            call = Call(
                method=request.method,
                path_params=dict(request.path_params),
                query=dict(request.query_params),
                headers=dict(request.headers),
                cookie_token=request.cookies.get(COOKIE) or None,
                origin=f"{request.url.scheme}://{host}",
                body=body,
                body_error=body_error,
            )
            request_id = (request.headers.get("x-request-id") or secrets.token_hex(8))[:64]
            peer = f"{request.client.host}:{request.client.port}" if request.client else ""
            return await run_in_threadpool(_dispatch, app, ep, call, request_id, peer)

        return Route(ep.path, endpoint, methods=[ep.method], name=f"{ep.method} {ep.path}")

    async def ping(request: Request) -> Response:
        return Response(status_code=204, headers={"x-influxdb-version": VERSION,
                                                  "x-influxdb-build": "authzd"})

    async def ready(request: Request) -> Response:
        up = datetime.now(UTC) - started
        body = {"status": "ready", "started": shapes.rfc3339(started),
                "up": f"{int(up.total_seconds())}s"}
        return Response(json.dumps(body), media_type="application/json; charset=utf-8")

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "invalid")
        message = "path not found" if exc.status_code == 404 else str(exc.detail)
        return Response(json.dumps({"code": code, "message": message}),
                        status_code=exc.status_code, headers=exc.headers,
                        media_type="application/json; charset=utf-8")

    routes: list[BaseRoute] = [route(ep) for ep in ENDPOINTS]
    routes += [
        Route("/ping", ping, methods=["GET", "HEAD"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/api/v2/openapi.json", openapi, methods=["GET"]),
    ]
    routes += console.routes()  # last: it serves "/"
    return Starlette(
        routes=routes,
        middleware=[Middleware(console.SecurityHeadersMiddleware)],
        exception_handlers={HTTPException: http_error},
    )
