"""Cross-cutting parts of every RPC, applied once at registration (no per-call
ServerInterceptor; README, Performance): request id, caller authentication,
error -> status mapping, one canonical log line, and the audit event.

The audit event is written here, once the handler has returned (its write is
committed) or raised, rather than in each use case: one place sees every
outcome (a denied caller never reaches a use case), and audited.py's table
keeps the list of audited RPCs and their targets in one page."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog

from service.app.audit import DENIED, Target, outcome_of
from service.app.caller import Caller, authenticate
from service.app.context import App
from service.domain.errors import AuthzdError
from service.tracing import annotate_current

from .audited import AUDITED, Audited
from .errors import REASON_PREFIX, to_status
from .limits import Rejected

log = structlog.get_logger("authzd.rpc")

Handler = Callable[..., Any]


def _metadata(context: grpc.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else None
    return None


def rpc(app: App, method: str, handler: Handler, *, authenticated: bool) -> Handler:
    """Wrap a servicer method `handler(request, context[, caller])`."""
    audited = AUDITED.get(method)
    tracing = app.tracing

    @functools.wraps(handler)
    def wrapper(request: Any, context: grpc.ServicerContext) -> Any:
        request_id = _metadata(context, "x-request-id") or secrets.token_hex(8)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id[:64], method=method, peer=context.peer()
        )
        start = time.perf_counter()
        caller: Caller | None = None
        try:
            if isinstance(request, Rejected):  # too large or not protobuf (limits.py)
                request, err = request.empty, request.error
                raise err
            if authenticated:
                caller = authenticate(app.access, _metadata(context, "authorization"),
                                      app.clock.time())
                structlog.contextvars.bind_contextvars(
                    caller_authorization=caller.authorization_id, caller_user=caller.user_id
                )
                if tracing is not None:
                    annotate_current(authorization_id=caller.authorization_id)
                response = handler(request, context, caller)
            else:
                response = handler(request, context)
        except AuthzdError as err:
            if tracing is not None:
                annotate_current(reason=err.reason)
            # The store's boundary turned a driver error into StoreUnavailable;
            # the log names the driver's error (never its text: it may hold a URL).
            cause = {"error": type(err.__cause__).__name__} if err.__cause__ else {}
            _finish(start, err.code.value, reason=err.reason, **cause)
            _audit(app, audited, request, None, caller, err)
            context.abort_with_status(to_status(err))
        except Exception:
            log.exception("rpc_failed")
            internal = AuthzdError("internal error; see the server log for request " + request_id)
            _finish(start, "INTERNAL", reason=internal.reason)
            _audit(app, audited, request, None, caller, internal)
            context.abort_with_status(to_status(internal))
        else:
            _finish(start, "OK")
            _audit(app, audited, request, response, caller, None)
            return response

    if tracing is not None:  # the span is around all of it: the log line has its trace id
        return tracing.wrap(wrapper, method, hot=False)
    return wrapper


def _finish(start: float, code: str, **fields: Any) -> None:
    log.info("rpc", code=code, duration_ms=round((time.perf_counter() - start) * 1000, 3),
             **fields)


def _audit(
    app: App,
    audited: Audited | None,
    request: Any,
    response: Any,
    caller: Caller | None,
    err: AuthzdError | None,
) -> None:
    """One event for a write whatever its outcome, for a read only when denied.
    Never raises: the answer to the caller does not depend on it."""
    if audited is None or not app.audit.enabled:
        return
    outcome = outcome_of(err.code.value if err else "OK")
    if not audited.write and outcome != DENIED:
        return
    try:
        target, fields = audited.extract(request, response, caller)
    except Exception:
        log.exception("audit_target_failed", action=audited.action)
        target, fields = Target("unknown"), {}
    reason = REASON_PREFIX + err.reason if err else ""
    app.audit.record(audited.action, target, outcome, reason, **fields)
