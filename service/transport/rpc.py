"""Cross-cutting parts of every RPC, applied once at registration (no per-call
ServerInterceptor; see PERFORMANCE.md): request id, caller authentication,
error -> status mapping, and one canonical log line."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog

from service.app.caller import Caller, authenticate
from service.app.context import App
from service.domain.errors import AuthzdError, StoreUnavailable
from service.store.database import STORE_ERRORS

from .errors import to_status

log = structlog.get_logger("authzd.rpc")

Handler = Callable[..., Any]


def _metadata(context: grpc.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else None
    return None


def rpc(app: App, method: str, handler: Handler, *, authenticated: bool) -> Handler:
    """Wrap a servicer method `handler(request, context[, caller])`."""

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
            if authenticated:
                caller = authenticate(app.access, _metadata(context, "authorization"),
                                      app.clock.time())
                structlog.contextvars.bind_contextvars(
                    caller_authorization=caller.authorization_id, caller_user=caller.user_id
                )
                response = handler(request, context, caller)
            else:
                response = handler(request, context)
        except AuthzdError as err:
            _finish(start, err.code.value, reason=err.reason)
            context.abort_with_status(to_status(err))
        except STORE_ERRORS as exc:
            err = StoreUnavailable()
            _finish(start, err.code.value, reason=err.reason, error=type(exc).__name__)
            context.abort_with_status(to_status(err))
        except Exception:
            log.exception("rpc_failed")
            err = AuthzdError("internal error; see the server log for request " + request_id)
            _finish(start, "INTERNAL", reason=err.reason)
            context.abort_with_status(to_status(err))
        else:
            _finish(start, "OK")
            return response

    return wrapper


def _finish(start: float, code: str, **fields: Any) -> None:
    log.info("rpc", code=code, duration_ms=round((time.perf_counter() - start) * 1000, 3),
             **fields)
