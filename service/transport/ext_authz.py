"""Envoy ext_authz v3: `envoy.service.auth.v3.Authorization/Check`.

request -> attributes -> permission (route context extension `authzd_permission`,
else the rules file, else deny) -> the decision index's verdict -> CheckResponse.

`ExtAuthz.check(raw)` does the work on bytes; `handler()` is the thin grpc
handler around it (no I/O of its own beyond what a CheckAccess does: a decision
index miss loads one row). Like CheckAccess, an allowed decision logs nothing;
denials go through the same rate-limited DenialLog, and every decision is counted
in `authzd_decisions_total{source="ext_authz"}`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import grpc
from authzd._envoy.envoy.config.core.v3 import base_pb2
from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2 as ext_pb
from google.protobuf.message import DecodeError

from service.app.access import AccessIndex
from service.app.caller import token_from_header
from service.app.ext_rules import (
    ALLOW,
    DENY,
    Request,
    Rules,
    RulesError,
    Template,
    UnknownName,
    parse_template,
    render,
    split_path,
)
from service.app.names import NameIndex, NeedsStore
from service.domain.decision import Decision, Reason, usable_reason
from service.domain.errors import AuthzdError, InvalidArgument
from service.domain.permissions import Permission, format_permission
from service.tracing import annotate_current

from .access import DenialLog, _abort
from .limits import not_a_message, too_large
from .metrics import DECISIONS

SERVICE = "envoy.service.auth.v3.Authorization"
CONTEXT_KEY = "authzd_permission"
SOURCE = "ext_authz"
# Headers authzd sets on an allowed request; whatever the client sent under these
# names never reaches the upstream.
USER_HEADER = "x-authzd-user-id"
ORG_HEADER = "x-authzd-org-id"
AUTHORIZATION_HEADER = "x-authzd-authorization-id"
REASON_HEADER = "x-authzd-reason"
OWN_HEADERS = (USER_HEADER, ORG_HEADER, AUTHORIZATION_HEADER)
# Denials outside DecisionReason.
NO_RULE = "NO_RULE"
DENY_RULE = "DENY_RULE"
UNKNOWN_NAME = "UNKNOWN_NAME"
INVALID_PERMISSION = "INVALID_PERMISSION"
ALLOW_RULE = "ALLOW_RULE"  # the metric's reason for requests an `allow` rule let through

_UNAUTHENTICATED, _PERMISSION_DENIED = 16, 7  # google.rpc.Code
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_CHALLENGE = 'Token realm="authzd", Bearer realm="authzd"'
_COUNTERS = {r.name: DECISIONS.labels(r.name, SOURCE) for r in Reason}
for _extra in (NO_RULE, DENY_RULE, UNKNOWN_NAME, INVALID_PERMISSION, ALLOW_RULE):
    _COUNTERS[_extra] = DECISIONS.labels(_extra, SOURCE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What Check answered: for the response, the span and the tests."""

    allowed: bool
    reason: str  # a DecisionReason name, NO_RULE, DENY_RULE, UNKNOWN_NAME, INVALID_PERMISSION
    decision: Decision | None = None  # None when no token decision was made
    permission: str = ""

    @property
    def http_status(self) -> int:
        if self.allowed:
            return 200
        return 401 if self.reason in _UNUSABLE else 403

    @property
    def authorization_id(self) -> str:
        return self.decision.authorization_id if self.decision else ""


_UNUSABLE = {r.name for r in (Reason.TOKEN_UNKNOWN, Reason.TOKEN_INACTIVE,
                               Reason.TOKEN_EXPIRED, Reason.USER_INACTIVE)}


def request_of(check: Any) -> tuple[Request, dict[str, str]]:
    """The HTTP request of a CheckRequest and its context extensions."""
    attrs = check.attributes
    http = attrs.request.http
    headers = {k.lower(): v for k, v in http.headers.items()}
    if not headers and http.header_map.headers:
        for h in http.header_map.headers:
            headers.setdefault(h.key.lower(), h.value or h.raw_value.decode("utf-8", "replace"))
    path, query = split_path(http.path)
    return Request(http.method.upper(), path, query, headers), dict(attrs.context_extensions)


class ExtAuthz:
    def __init__(
        self,
        access: AccessIndex,
        names: NameIndex,
        rules: Rules | None,
        *,
        remove_authorization: bool = False,
        denials: DenialLog | None = None,
        max_bytes: int = 1024 * 1024,
    ) -> None:
        self.access = access
        self.names = names
        self.rules = rules or Rules(())
        self.remove_authorization = remove_authorization
        self.denials = denials or DenialLog()
        self.max_bytes = max_bytes
        self._templates: dict[str, Template | None] = {}

    # -- permission --------------------------------------------------------

    def _context_template(self, text: str) -> Template | None:
        """A route's permission template, parsed once (None: malformed)."""
        try:
            return self._templates[text]
        except KeyError:
            pass
        try:
            template: Template | None = parse_template(text, CONTEXT_KEY)
        except RulesError:
            template = None
        if len(self._templates) < 10_000:
            self._templates[text] = template
        return template

    def required(
        self, request: Request, extensions: dict[str, str], memory_only: bool = False
    ) -> str | Permission:
        """The permission the request needs, or ALLOW / NO_RULE / DENY_RULE /
        UNKNOWN_NAME / INVALID_PERMISSION."""
        text = extensions.get(CONTEXT_KEY)
        captures: dict[str, str] = {}
        if text is not None:
            template = self._context_template(text)
            if template is None:
                return INVALID_PERMISSION
        else:
            found = self.rules.find(request)
            if found is None:
                return NO_RULE
            rule, captures = found
            if rule.outcome == ALLOW:
                return ALLOW
            if rule.outcome == DENY:
                return DENY_RULE
            assert isinstance(rule.outcome, Template)
            template = rule.outcome
        try:
            names = self.names
            return render(
                template,
                captures,
                request,
                lambda name: names.org_id(name, memory_only),
                lambda org_id, name: names.bucket_id(org_id, name, memory_only),
            )
        except UnknownName:
            return UNKNOWN_NAME
        except InvalidArgument:
            return INVALID_PERMISSION

    # -- decision ----------------------------------------------------------

    def decide(
        self, request: Request, extensions: dict[str, str], memory_only: bool = False
    ) -> Outcome:
        """The outcome; with memory_only (on the event loop), NeedsStore before
        any side effect when a token or name must be read from the store."""
        access = self.access
        access.ensure_fresh()
        needed = self.required(request, extensions, memory_only)
        if needed == ALLOW:
            return Outcome(True, ALLOW)
        token = token_from_header(request.headers.get("authorization"))
        now = access.now()
        if isinstance(needed, Permission):
            if memory_only:
                verdict = access.cached_verdict(token or "", needed, now)
                if verdict is None:
                    raise NeedsStore()
            else:
                verdict = access.verdict(token or "", needed, now)
            decision, _, used = verdict
            access.note_used(used, now)
            if not decision.allowed:
                self.denials.record(decision, needed)
            return Outcome(decision.allowed, decision.reason.name, decision,
                           format_permission(needed))
        # No permission to decide on: still say 401 for a token that is unusable.
        if memory_only and token:
            raise NeedsStore()  # a denial: not worth a memory-only path of its own
        grant = access.grant(token) if token else None
        unusable = usable_reason(grant, now)
        reason = unusable.name if unusable is not None else needed
        decision = Decision(False, unusable or Reason.NO_MATCHING_PERMISSION,
                            None, grant.authorization_id if grant else "")
        # One kind per reason, whatever the path (a scan of random paths is one
        # rate-limited kind); the line shows the first path of the window.
        self.denials.record(decision, needed, method=request.method,
                            path=request.path.partition("?")[0][:256])
        return Outcome(False, reason, decision)

    def check(self, raw: bytes, memory_only: bool = False) -> tuple[bytes, Outcome]:
        """CheckRequest bytes -> CheckResponse bytes. Raises AuthzdError for a
        request too large or not a CheckRequest, StoreUnavailable (or a store
        error) when no decision can be made; with memory_only, NeedsStore when
        the store must be read (nothing has been counted or logged then)."""
        if len(raw) > self.max_bytes:
            raise too_large("Check", len(raw), self.max_bytes)
        try:
            check = ext_pb.CheckRequest.FromString(raw)
        except DecodeError:
            raise not_a_message() from None
        request, extensions = request_of(check)
        outcome = self.decide(request, extensions, memory_only)
        _COUNTERS[outcome.reason if outcome.reason != ALLOW else ALLOW_RULE].inc()
        return self.response(outcome).SerializeToString(), outcome

    # -- answer ------------------------------------------------------------

    def response(self, outcome: Outcome) -> Any:
        resp = ext_pb.CheckResponse()
        if outcome.allowed:
            ok = resp.ok_response
            d = outcome.decision
            values = {}
            if d is not None:
                values = {USER_HEADER: d.user_id, ORG_HEADER: d.org_id,
                          AUTHORIZATION_HEADER: d.authorization_id}
            for key, value in values.items():
                if value:
                    ok.headers.add(header=base_pb2.HeaderValue(key=key, value=value),
                                   append_action=_OVERWRITE)
            # Removed when not set (Envoy applies removals after additions).
            ok.headers_to_remove.extend(k for k in OWN_HEADERS if not values.get(k))
            if self.remove_authorization:
                ok.headers_to_remove.append("authorization")
            return resp
        unauthenticated = outcome.http_status == 401
        resp.status.code = _UNAUTHENTICATED if unauthenticated else _PERMISSION_DENIED
        denied = resp.denied_response
        denied.status.code = outcome.http_status  # type: ignore[assignment]
        headers = [("content-type", "application/json; charset=utf-8"),
                   (REASON_HEADER, outcome.reason)]
        if unauthenticated:
            headers.append(("www-authenticate", _CHALLENGE))
            body = {"code": "unauthorized", "message": "unauthorized access"}
        else:
            body = {"code": "forbidden",
                    "message": f"permission denied ({outcome.reason.lower()})"}
        for key, value in headers:
            denied.headers.add(header=base_pb2.HeaderValue(key=key, value=value),
                               append_action=_OVERWRITE)
        denied.body = json.dumps(body)
        return resp


def handler(
    ext: ExtAuthz, misses: Executor | None = None, tracing: Any = None
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes | None]]:
    """The grpc handler, a coroutine on the event loop like CheckAccess: bytes in,
    bytes out, answered from memory; a Check that must read the store (a token
    or name not in memory) is answered in the `misses` pool instead. Errors
    become statuses (never OK). With tracing, each call in a sampled span."""

    async def Check(raw: bytes, context: grpc.aio.ServicerContext) -> bytes | None:
        try:
            try:
                body, outcome = ext.check(raw, memory_only=True)
            except NeedsStore:
                loop = asyncio.get_running_loop()
                body, outcome = await loop.run_in_executor(misses, ext.check, raw)
            if tracing is not None:
                annotate_current(reason=outcome.reason,
                                 authorization_id=outcome.authorization_id)
            return body
        except AuthzdError as err:
            await _abort(context, "ext_authz.Check", err)
        return None

    if tracing is not None:
        return tracing.wrap(  # type: ignore[no-any-return]
            Check, "Authorization/Check", hot=True, carrier_of=_trace_headers
        )
    return Check


def _trace_headers(raw: bytes) -> dict[str, str]:
    """The HTTP request's traceparent/tracestate, for a Check whose gRPC metadata
    has none (Envoy without tracing of its own forwards the client's headers).
    Most requests carry none: a byte search spares them a second parse."""
    if b"traceparent" not in raw:
        return {}
    try:
        headers = ext_pb.CheckRequest.FromString(raw).attributes.request.http.headers
    except DecodeError:
        return {}
    return {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}


def add_to_server(check: Callable[..., Any], server: grpc.aio.Server) -> None:
    """Register Authorization/Check on raw bytes, like AccessService."""
    handlers: dict[str, grpc.RpcMethodHandler] = {
        "Check": grpc.unary_unary_rpc_method_handler(check)
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
