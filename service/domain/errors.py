"""Domain errors. Each carries a stable reason from the ErrorReason catalogue
(protos/authzd/v1/error_reason.proto, without the ERROR_REASON_ prefix) and the
gRPC status it maps to; the transport layer turns them into status + ErrorInfo."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

UNAUTHORIZED_MESSAGE = "unauthorized access"


class Code(Enum):
    """The status codes the service answers with (names as in grpc.StatusCode)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class AuthzdError(Exception):
    """Base of every error the service reports to a caller."""

    code: Code = Code.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(AuthzdError):
    code = Code.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{field}: {message}", reason=reason, metadata={"field": field})
        self.field = field


class NotFound(AuthzdError):
    code = Code.NOT_FOUND


class AlreadyExists(AuthzdError):
    code = Code.ALREADY_EXISTS


class FailedPrecondition(AuthzdError):
    code = Code.FAILED_PRECONDITION


class Unauthenticated(AuthzdError):
    """Always the same message, whatever the cause: callers learn nothing."""

    code = Code.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"

    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED_MESSAGE)


class PermissionDenied(AuthzdError):
    code = Code.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"

    def __init__(self, permission_text: str, *, message: str = "") -> None:
        """Names the permission the caller lacks, unless `message` says why in
        words (where naming it would show what the caller cannot read)."""
        super().__init__(
            message or f"permission denied: the caller lacks {permission_text}",
            metadata={"permission": permission_text} if permission_text else {},
        )


class LimitExceeded(AuthzdError):
    code = Code.RESOURCE_EXHAUSTED
    reason = "LIMIT_EXCEEDED"


class StoreUnavailable(AuthzdError):
    code = Code.UNAVAILABLE
    reason = "STORE_UNAVAILABLE"

    def __init__(self, message: str = "the store is unavailable; retry later") -> None:
        super().__init__(message)
