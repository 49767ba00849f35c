"""The audit trail: one JSON object per line for every change, sign-in, recovery
command and denied admin call.

Who records what: admin RPCs are recorded once, in transport/rpc.py, after the
handler returned or raised (service/transport/audited.py says which RPCs and how
their target is read); recovery commands are recorded by their use cases
(service/app/recovery.py). The request context (request id, peer, caller) is
read from the contextvars those callers bind, the same ones the log lines use.

What makes a line trustworthy:
- Only fields chosen one by one reach an event (never a whole request), so no
  token, password or hash can; a token-shaped string is masked all the same, as
  a second line of defence.
- `json.dumps(ensure_ascii=True)` escapes CR, LF, every other control character,
  U+2028/U+2029 and all non-ASCII: a name cannot end a line or start a forged
  one, and the text round-trips exactly when the line is parsed.
- Each event is one `write()` on a file opened O_APPEND: lines of several
  processes (`--workers`) do not interleave. Written before the call answers and
  flushed to the kernel, so it survives the process being killed; not fsynced,
  so the last events can be lost on power loss or an OS crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol

import structlog

from service.domain.errors import AuthzdError

from .clock import Clock, SystemClock

log = structlog.get_logger("authzd.audit")

SUCCESS = "success"
DENIED = "denied"  # the caller was not authenticated, or not allowed
FAILURE = "failure"  # refused for the request's own sake: invalid, not found, exists...
ERROR = "error"  # the service could not answer: store unavailable, internal error

# The google.rpc.ErrorInfo reason callers see (transport/errors.py adds the same prefix).
REASON_PREFIX = "ERROR_REASON_"
MAX_TEXT = 256  # user-supplied text is cut here: an event stays one short line
MAX_ITEMS = 1000  # lists (e.g. a token's permissions, at most 1000) are cut here
OFF = ("", "off")
STDERR = "-"

_DENIED_CODES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}
_ERROR_CODES = {"UNAVAILABLE", "INTERNAL", "UNKNOWN", "DATA_LOSS"}
_TOKEN = re.compile(r"az[ts]_[0-9A-Za-z]{49}")
# Request context bound by transport/rpc.py (or the recovery commands), by event key.
_CONTEXT = {
    "request_id": "request_id",
    "peer": "peer",
    "method": "method",
    "caller_authorization": "caller_authorization_id",
    "caller_user": "caller_user_id",
    "os_user": "os_user",
}


@dataclass(frozen=True)
class Target:
    """What an event is about: a type ("authorization", "user", ...), its id when
    known, and its name where it has one."""

    type: str
    id: str = ""
    name: str = ""


def outcome_of(code: str) -> str:
    """success / denied / failure / error for a status code name ("OK", "NOT_FOUND")."""
    if code == "OK":
        return SUCCESS
    if code in _DENIED_CODES:
        return DENIED
    if code in _ERROR_CODES:
        return ERROR
    return FAILURE


def error_outcome(exc: BaseException) -> tuple[str, str]:
    """(outcome, reason) for an exception a use case raised."""
    if isinstance(exc, AuthzdError):
        return outcome_of(exc.code.value), REASON_PREFIX + exc.reason
    return ERROR, REASON_PREFIX + "INTERNAL"


class Sink(Protocol):
    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Appends to a file (created 0600: events name users and tokens' ids)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock = threading.Lock()
        self._torn = False  # a write failed part-way: end that line before the next

    def write(self, line: str) -> None:
        data = line.encode("ascii")
        with self._lock:
            if self._torn:
                data = b"\n" + data
            size = len(data)
            try:
                while data:  # a regular file takes it in one write; loop for a short one
                    data = data[os.write(self._fd, data):]
            except OSError:
                self._torn = self._torn or len(data) < size
                raise
            self._torn = False

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class StderrSink:
    """The process's stderr, looked up at each write (tests swap sys.stderr).
    Written through structlog's PrintLogger, which holds the same per-stream lock
    as the log lines: an event never lands in the middle of a log line."""

    def write(self, line: str) -> None:
        structlog.PrintLogger(sys.stderr).msg(line.removesuffix("\n"))

    def close(self) -> None:
        pass


def _clip(value: Any) -> Any:
    """Bound user-supplied values: strings to MAX_TEXT, lists to MAX_ITEMS."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, (list, tuple)):
        return [_clip(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:MAX_TEXT]: _clip(v) for k, v in value.items()}
    return value


def encode(event: dict[str, Any]) -> str:
    """One line of JSON, pure ASCII. DEL, the one control character json leaves
    as is, is escaped too (it can only occur inside a string)."""
    text = json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=str)
    return _TOKEN.sub("[redacted]", text).replace("\x7f", "\\u007f") + "\n"


class Auditor:
    """Records audit events to a sink; with no sink (the default) records nothing."""

    def __init__(self, sink: Sink | None = None, clock: Clock | None = None) -> None:
        self.sink = sink
        self.clock = clock or SystemClock()
        self.write_failures = 0

    @property
    def enabled(self) -> bool:
        return self.sink is not None

    def record(
        self, action: str, target: Target, outcome: str, reason: str = "", **fields: Any
    ) -> None:
        """Write one event. Never raises: the change it records has already
        happened, so a full disk is logged (audit_write_failed), not answered."""
        if self.sink is None:
            return
        try:
            line = encode(self._event(action, target, outcome, reason, fields))
            self.sink.write(line)
        except Exception as exc:  # noqa: BLE001 (see the docstring)
            self.write_failures += 1
            with contextlib.suppress(Exception):  # stderr itself may be what failed
                log.error("audit_write_failed", action=action,
                          error=f"{type(exc).__name__}: {exc}")

    def _event(
        self, action: str, target: Target, outcome: str, reason: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        bound = structlog.contextvars.get_contextvars()
        event: dict[str, Any] = {
            "time": self.clock.now().astimezone(UTC).isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "event": "audit",  # tells audit lines from log lines when both go to stderr
            "request_id": bound.get("request_id"),
            "peer": bound.get("peer"),
            "caller_authorization_id": None,
            "caller_user_id": None,
        }
        for var, key in _CONTEXT.items():
            if var in bound:
                event[key] = bound[var]
        event.update(
            action=action,
            target={k: v for k, v in vars(target).items() if v or k == "type"},
            outcome=outcome,
            reason=reason,
        )
        for key, value in fields.items():
            event.setdefault(key, value)  # the fields above cannot be overridden
        return _clip(event)  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def attempt(self, action: str, target: Target) -> Iterator[Attempt]:
        """Record one event for the block: success when it ends normally (set
        `.target` and `.fields` inside once the result is known), else the
        outcome and reason of the exception, which goes on."""
        attempt = Attempt(target)
        try:
            yield attempt
        except Exception as exc:
            outcome, reason = error_outcome(exc)
            self.record(action, attempt.target, outcome, reason, **attempt.fields)
            raise
        self.record(action, attempt.target, SUCCESS, **attempt.fields)

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()


@dataclass
class Attempt:
    target: Target
    fields: dict[str, Any] = field(default_factory=dict)


def open_auditor(where: str, clock: Clock | None = None) -> Auditor:
    """`--audit-log` / AUTHZD_AUDIT_LOG: "-" stderr, "" or "off" nothing, else a
    file appended to (OSError when it cannot be opened: refuse to start)."""
    if where.strip().lower() in OFF:
        return Auditor(None, clock)
    if where == STDERR:
        return Auditor(StderrSink(), clock)
    return Auditor(FileSink(where), clock)
