"""Who is calling an admin RPC, and what may they do."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.decision import usable_reason
from service.domain.errors import PermissionDenied, Unauthenticated
from service.domain.permissions import Permission, PermissionSet

from .access import AccessIndex

SCHEMES = ("token", "bearer")


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: an API token or a session."""

    authorization_id: str
    user_id: str
    permissions: PermissionSet
    is_session: bool

    def holds(self, p: Permission) -> bool:
        return self.permissions.first_match(p) is not None

    def require(self, *wanted: Permission) -> None:
        """PERMISSION_DENIED naming the first permission the caller lacks."""
        missing = self.permissions.first_missing(wanted)
        if missing is not None:
            raise PermissionDenied(str(missing))


def token_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() not in SCHEMES:
        return None
    return token.strip() or None


def authenticate(access: AccessIndex, header: str | None, now: float) -> Caller:
    """UNAUTHENTICATED ("unauthorized access") for every kind of unusable credential."""
    token = token_from_header(header)
    if token is None:
        raise Unauthenticated()
    grant = access.grant(token)
    if grant is None or usable_reason(grant, now) is not None:
        raise Unauthenticated()
    return Caller(grant.authorization_id, grant.user_id, grant.permissions, not grant.org_id)
