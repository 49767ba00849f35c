"""AccessService: the CheckAccess hot path.

Kept apart from the admin servicers on purpose: no per-call contextvars, no
log line for an allowed decision (README, Performance: a line per call costs about a
third of the throughput). Decisions are counted in metrics; denials and errors
are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Executor
from typing import Any, NamedTuple

import grpc
import structlog
from authzd.v1 import access_service_pb2 as access_pb
from google.protobuf.message import DecodeError

from service.app.access import AccessIndex
from service.domain.decision import Decision, Reason
from service.domain.errors import AuthzdError, InvalidArgument
from service.domain.permissions import Permission, check_permission, format_permission
from service.settings import Settings
from service.tracing import AUTHORIZATION_ID, REASON

from .convert import permission_from_proto, permission_to_proto
from .errors import to_status
from .limits import not_a_message, too_large
from .metrics import DECISIONS

log = structlog.get_logger("authzd.access")

MAX_BATCH = 10_000
# Largest requests, in serialized bytes. A legitimate check is ~105 bytes (a
# 53-character token, two 16-character ids); the batch limit leaves ~400 bytes
# for each of MAX_BATCH checks.
MAX_CHECK_BYTES: int = Settings.max_check_request_bytes  # the defaults: settings.py's
MAX_BATCH_BYTES: int = Settings.max_batch_request_bytes

_COUNTERS = {r: DECISIONS.labels(r.name, "CheckAccess") for r in Reason}


def requested_permission(field: str, msg: Any) -> Permission:
    """The requested permission of one check; INVALID_ARGUMENT when malformed."""
    if not msg.HasField("permission"):
        raise InvalidArgument(f"{field}permission", "is required", reason="INVALID_PERMISSION")
    return check_permission(
        f"{field}permission", permission_from_proto(f"{field}permission", msg.permission)
    )


class Answer(NamedTuple):
    """A remembered answer. The hot loop reads it by index (a[2], a[3], ...):
    as fast as a plain tuple; the names document it."""

    # The CheckAccessResponse bytes, and the same as one element of
    # BatchCheckAccessResponse.results (repeated fields concatenate).
    unary: bytes
    batch_element: bytes
    generation: int  # the decision index's generation it was decided in
    valid_until: float  # token expiry or a session's union change
    # The decision counter of its reason (held, not looked up: hashing an Enum
    # member is a Python call).
    counter: Any
    used_authorization_id: str  # whose last_used_time a use moves ("" for none)
    denied: tuple[Decision, Permission] | None  # for the denial log




class AccessServicer:
    """Serves AccessService on raw bytes (registered without (de)serializers),
    as coroutines on the event loop that never block on the store.

    An answer is a pure function of (token, requested permission) for as long as
    the decision index's generation does not change and the token has not
    expired, so each answer is kept serialized: a repeated check costs one parse
    of the request and one dictionary lookup, and BatchCheckAccess joins the kept
    bytes. Every write moves the generation, which retires all kept answers.
    """

    def __init__(
        self,
        access: AccessIndex,
        cache_size: int = 100_000,
        *,
        max_check_bytes: int = MAX_CHECK_BYTES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        misses: Executor | None = None,
    ) -> None:
        self.access = access
        # Where a check that must read the store runs (None: the loop's default).
        self.misses = misses
        self.max_check_bytes = max_check_bytes
        self.max_batch_bytes = max_batch_bytes
        self.denials = DenialLog()
        self._cache_size = cache_size
        self._answers: dict[tuple[str, int, int, str, str], Answer] = {}

    def answers(
        self, checks: Any, prefix: bool, *, memory_only: bool = False
    ) -> list[Answer] | None:
        """Answer each check: a kept answer when still valid, else a decision.
        Freshness, time and generation are read once for the whole call, and
        metrics are counted once per reason, not once per check. With
        memory_only, None when some check needs the store (nothing is counted
        then: the caller asks again from a thread)."""
        access = self.access
        access.ensure_fresh()
        now = access.now()
        generation = access.generation
        kept = self._answers
        out: list[Answer] = []
        for i, check in enumerate(checks):
            p = check.permission
            r = p.resource
            key = (check.token, p.action, r.type, r.org_id, r.id)
            found = kept.get(key)
            if found is None or found[2] != generation or now >= found[3]:
                found = self._decide(
                    f"checks[{i}]." if prefix else "", check, key, now, memory_only
                )
                if found is None:
                    return None
            out.append(found)
        self._record(out, now)
        return out

    def _record(self, answers: list[Answer], now: float) -> None:
        counts: dict[Any, int] = {}
        access = self.access
        for found in answers:
            counts[found[4]] = counts.get(found[4], 0) + 1
            if found[5]:
                access.note_used(found[5], now)
            if found[6] is not None:
                self.denials.record(*found[6])
        for counter, n in counts.items():
            counter.inc(n)

    def _decide(
        self,
        field: str,
        check: Any,
        key: tuple[str, int, int, str, str],
        now: float,
        memory_only: bool = False,
    ) -> Answer | None:
        requested = requested_permission(field, check)
        generation = self.access.generation  # before the lookup: a race only retires
        if memory_only:
            verdict = self.access.cached_verdict(check.token, requested, now)
            if verdict is None:
                return None
        else:
            verdict = self.access.verdict(check.token, requested, now)
        decision, valid_until, used = verdict
        response = _response(decision)
        answer = Answer(
            response.SerializeToString(),
            access_pb.BatchCheckAccessResponse(results=[response]).SerializeToString(),
            generation,
            valid_until,
            _COUNTERS[decision.reason],
            used,
            None if decision.allowed else (decision, requested),
        )
        if len(self._answers) >= self._cache_size:
            # FIFO eviction; another thread may have evicted the same key first.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                self._answers.pop(next(iter(self._answers)))
        self._answers[key] = answer
        return answer

    async def _answer(self, checks: Any, prefix: bool) -> list[Answer]:
        """From memory on the event loop; when a token must be read from the
        store, the whole call is answered in the miss pool instead (the loop
        never waits on the store)."""
        found = self.answers(checks, prefix, memory_only=True)
        if found is None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self.misses, self.answers, checks, prefix)
        assert found is not None
        return found

    async def CheckAccess(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes | None:
        try:
            if len(raw) > self.max_check_bytes:
                raise too_large("CheckAccess", len(raw), self.max_check_bytes)
            request = _parse(access_pb.CheckAccessRequest, raw)
            return (await self._answer((request,), False))[0][0]
        except AuthzdError as err:
            await _abort(context, "CheckAccess", err)
        return None

    async def BatchCheckAccess(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> bytes | None:
        try:
            if len(raw) > self.max_batch_bytes:
                raise too_large("BatchCheckAccess", len(raw), self.max_batch_bytes)
            request = _parse(access_pb.BatchCheckAccessRequest, raw)
            if len(request.checks) > MAX_BATCH:
                raise InvalidArgument("checks", f"at most {MAX_BATCH} checks per batch")
            # Repeated fields concatenate on the wire: the response is the kept
            # one-element encodings, joined.
            return b"".join(a[1] for a in await self._answer(request.checks, True))
        except AuthzdError as err:
            await _abort(context, "BatchCheckAccess", err)
        return None


def _parse(message: Any, raw: bytes) -> Any:
    try:
        return message.FromString(raw)
    except DecodeError:
        raise not_a_message() from None


def add_to_server(servicer: AccessServicer, server: grpc.aio.Server, tracing: Any = None) -> None:
    """Register AccessService with bytes in and bytes out (see AccessServicer);
    with tracing (service.tracing.Tracing), each call in a sampled span."""
    check, batch = servicer.CheckAccess, servicer.BatchCheckAccess
    if tracing is not None:
        check = tracing.wrap(check, "AccessService/CheckAccess", hot=True, annotate=_annotate)
        batch = tracing.wrap(batch, "AccessService/BatchCheckAccess", hot=True)
    handlers: dict[str, grpc.RpcMethodHandler] = {
        "CheckAccess": grpc.unary_unary_rpc_method_handler(check),
        "BatchCheckAccess": grpc.unary_unary_rpc_method_handler(batch),
    }
    name = access_pb.DESCRIPTOR.services_by_name["AccessService"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)


def _annotate(span: Any, raw: bytes) -> None:
    """A sampled CheckAccess span's decision reason and authorization id."""
    r = access_pb.CheckAccessResponse.FromString(raw)
    span.set_attribute(REASON, Reason(r.reason).name)
    if r.authorization_id:
        span.set_attribute(AUTHORIZATION_ID, r.authorization_id)


class DenialLog:
    """Logs each kind of denial (reason, authorization, permission) at most once
    per `window` seconds; the repeats in between are counted and reported on the
    next line for that kind. A flood of identical denials (a misconfigured client,
    a token spray) costs a dictionary update, not a log line each."""

    def __init__(self, window: float = 10.0, max_kinds: int = 10_000) -> None:
        self.window = window
        self.max_kinds = max_kinds
        self._seen: dict[tuple[Reason, str, Permission | str], list[float]] = {}

    def record(self, decision: Decision, requested: Permission | str, **detail: str) -> None:
        """`requested` is the permission, or (ext_authz with no permission to
        decide on) a short text saying why there was none. `detail` goes on the
        line but is not part of the kind."""
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
            permission=requested if isinstance(requested, str) else format_permission(requested),
            authorization_id=decision.authorization_id,
            repeats_since_last=int(entry[1]) if entry else 0,
            **detail,
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


async def _abort(context: grpc.aio.ServicerContext, method: str, err: AuthzdError) -> None:
    log.info("rpc", method=method, code=err.code.value, reason=err.reason, message=err.message)
    status = to_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)
