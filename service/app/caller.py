"""Who is calling an admin RPC, and what may they do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.decision import usable_reason
from service.domain.errors import PermissionDenied, Unauthenticated
from service.domain.permissions import Action, Permission, PermissionSet, ResourceType

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
        return self.permissions.allows(p)

    def require(self, *wanted: Permission) -> None:
        """PERMISSION_DENIED naming the first permission the caller lacks (or, for a
        grant, does not cover: SPEC §2 "granting is coverage")."""
        missing = self.permissions.first_missing(wanted)
        if missing is not None:
            raise PermissionDenied(str(missing))

    def first_uncovered(self, wanted: Iterable[Permission]) -> Permission | None:
        """The first of `wanted` the caller could not have granted, or None."""
        return self.permissions.first_missing(wanted)

    def sees_org(self, org_id: str) -> bool:
        """Whether the caller may learn that the organization exists: it can read
        the org itself, or holds a permission that reaches inside it (instance, a
        global grant, or one that names the org). Anything else must answer as
        if the org did not exist (SPEC §4, existence does not leak)."""
        if self.holds(Permission(Action.READ, ResourceType.ORGS, id=org_id)):
            return True
        return any(
            p.type == ResourceType.INSTANCE or p.org_id == org_id or (not p.org_id and not p.id)
            for p in self.permissions.permissions
        )

    def sees_user(self, user_id: str) -> bool:
        """Whether the caller may learn that the user exists (it can read it)."""
        return user_id == self.user_id or self.holds(
            Permission(Action.READ, ResourceType.USERS, id=user_id)
        )


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
