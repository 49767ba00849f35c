"""AccessService: the CheckAccess hot path.

Kept apart from the admin servicers on purpose: no per-call contextvars, no
log line for an allowed decision (PERFORMANCE.md: a line per call costs about a
third of the throughput). Decisions are counted in metrics; denials and errors
are logged.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import structlog
from authzd.v1 import access_service_pb2 as access_pb
from prometheus_client import Counter

from service.app.access import AccessIndex
from service.domain.decision import Decision, Reason
from service.domain.errors import AuthzdError, InvalidArgument, StoreUnavailable
from service.domain.permissions import Permission, check_permission, format_permission
from service.store.database import STORE_ERRORS

from .convert import permission_from_proto, permission_to_proto
from .errors import to_status

log = structlog.get_logger("authzd.access")

MAX_BATCH = 10_000

DECISIONS = Counter("authzd_decisions_total", "CheckAccess decisions by reason", ["reason"])
_COUNTERS = {r: DECISIONS.labels(r.name) for r in Reason}


def requested_permission(field: str, msg: Any) -> Permission:
    """The requested permission of one check; INVALID_ARGUMENT when malformed."""
    if not msg.HasField("permission"):
        raise InvalidArgument(
            f"{field}permission", "is required", reason="INVALID_PERMISSION"
        )
    return check_permission(
        f"{field}permission", permission_from_proto(f"{field}permission", msg.permission)
    )


class AccessServicer:
    def __init__(self, access: AccessIndex) -> None:
        self.access = access
        self.denials = DenialLog()

    def _decide(self, field: str, check: Any) -> access_pb.CheckAccessResponse:
        requested = requested_permission(field, check)
        decision = self.access.check(check.token, requested)
        _COUNTERS[decision.reason].inc()
        if not decision.allowed:
            self.denials.record(decision, requested)
        return _response(decision)

    def CheckAccess(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return self._decide("", request)
        except AuthzdError as err:
            _abort(context, "CheckAccess", err)
        except STORE_ERRORS:
            _abort(context, "CheckAccess", StoreUnavailable())

    def BatchCheckAccess(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            if len(request.checks) > MAX_BATCH:
                raise InvalidArgument("checks", f"at most {MAX_BATCH} checks per batch")
            results = [self._decide(f"checks[{i}].", c) for i, c in enumerate(request.checks)]
            return access_pb.BatchCheckAccessResponse(results=results)
        except AuthzdError as err:
            _abort(context, "BatchCheckAccess", err)
        except STORE_ERRORS:
            _abort(context, "BatchCheckAccess", StoreUnavailable())


class DenialLog:
    """Logs each kind of denial (reason, authorization, permission) at most once
    per `window` seconds; the repeats in between are counted and reported on the
    next line for that kind. A flood of identical denials (a misconfigured client,
    a token spray) costs a dictionary update, not a log line each."""

    def __init__(self, window: float = 10.0, max_kinds: int = 10_000) -> None:
        self.window = window
        self.max_kinds = max_kinds
        self._seen: dict[tuple[Reason, str, Permission], list[float]] = {}

    def record(self, decision: Decision, requested: Permission) -> None:
        key = (decision.reason, decision.authorization_id, requested)
        now = time.monotonic()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            return
        if entry is None and len(self._seen) >= self.max_kinds:
            self._seen.clear()
        self._seen[key] = [now, 0]
        log.info(
            "denied",
            reason=decision.reason.name,
            permission=format_permission(requested),
            authorization_id=decision.authorization_id,
            repeats_since_last=int(entry[1]) if entry else 0,
        )


def _response(d: Decision) -> access_pb.CheckAccessResponse:
    resp = access_pb.CheckAccessResponse(
        allowed=d.allowed,
        reason=d.reason.value,  # type: ignore[arg-type]
        authorization_id=d.authorization_id,
        user_id=d.user_id,
        org_id=d.org_id,
    )
    if d.matched is not None:
        permission_to_proto(d.matched, resp.matched_permission)
    return resp


def _abort(context: grpc.ServicerContext, method: str, err: AuthzdError) -> None:
    log.info("rpc", method=method, code=err.code.value, reason=err.reason, message=err.message)
    context.abort_with_status(to_status(err))
