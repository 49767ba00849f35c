"""Domain errors -> HTTP status and InfluxDB's error body `{"code", "message"}`.

One table, read by every endpoint. InfluxDB's codes are words ("not found"),
its statuses those of its `kit/transport/http` error handler: a conflict is
422 there; authzd answers 409 for a refused state change (the last instance
writer, a wrong old password) and 422, as InfluxDB does, for a name taken and a
second setup."""

from __future__ import annotations

import re

from service.domain.errors import AuthzdError, Code, InvalidArgument

# (HTTP status, InfluxDB code) by domain code.
STATUS: dict[Code, tuple[int, str]] = {
    Code.INVALID_ARGUMENT: (400, "invalid"),
    Code.UNAUTHENTICATED: (401, "unauthorized"),
    Code.PERMISSION_DENIED: (403, "forbidden"),
    Code.NOT_FOUND: (404, "not found"),
    Code.FAILED_PRECONDITION: (409, "conflict"),
    Code.ALREADY_EXISTS: (422, "conflict"),
    Code.RESOURCE_EXHAUSTED: (429, "too many requests"),
    Code.UNAVAILABLE: (503, "unavailable"),
    Code.INTERNAL: (500, "internal error"),
}
# Reasons whose status differs from their code's (InfluxDB answers 422 here).
BY_REASON: dict[str, tuple[int, str]] = {
    "SETUP_ALREADY_DONE": (422, "conflict"),
}


class HttpError(Exception):
    """An error of the HTTP layer itself (body too large, not JSON, cross-site)."""

    def __init__(self, status: int, code: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason


def too_large(limit: int) -> HttpError:
    return HttpError(413, "request too large", f"the body exceeds {limit} bytes", "LIMIT_EXCEEDED")


def cross_site() -> HttpError:
    return HttpError(
        403,
        "forbidden",
        "a cross-site request cannot use the session cookie; send a token instead",
        "CROSS_SITE",
    )


# gRPC request field names as the use cases spell them -> the JSON names.
_FIELD_WORDS = [
    (re.compile(r"\borg_id\b"), "orgID"),
    (re.compile(r"\buser_id\b"), "userID"),
    (re.compile(r"\bexpire_time\b"), "expiresAt"),
    (re.compile(r"\bnew_password\b"), "password"),
    (re.compile(r"\bold_password\b"), "oldPassword"),
    (re.compile(r"\bupdate_mask\b"), "body"),
    (re.compile(r"\bpage_token\b"), "after"),
    (re.compile(r"\bpage_size\b"), "limit"),
    (re.compile(r"^(authorization|user|organization|bucket)\."), ""),
]


def http_field(field: str) -> str:
    for pattern, word in _FIELD_WORDS:
        field = pattern.sub(word, field)
    return field or "body"


def status_of(err: AuthzdError) -> tuple[int, str, str]:
    """(status, InfluxDB code, message) for a domain error; an invalid field is
    named as the JSON spells it."""
    status, code = BY_REASON.get(err.reason) or STATUS.get(err.code, (500, "internal error"))
    message = err.message
    if isinstance(err, InvalidArgument):
        prefix = f"{err.field}: "
        rest = message[len(prefix):] if message.startswith(prefix) else message
        message = f"{http_field(err.field)}: {rest}"
    return status, code, message
