"""The answer for one token and one requested permission (SPEC §2).

A `Grant` is everything the decision needs about one token, compiled once and kept
in memory: ids, status, expiry, the owner's status, and a PermissionSet. `decide`
applies the reasons in the order SPEC §2 fixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .permissions import Permission, PermissionSet


class Reason(IntEnum):
    """Numbers equal the proto enum `authzd.v1.DecisionReason`."""

    ALLOWED = 1
    TOKEN_UNKNOWN = 2
    TOKEN_INACTIVE = 3
    TOKEN_EXPIRED = 4
    USER_INACTIVE = 5
    NO_MATCHING_PERMISSION = 6


@dataclass(frozen=True, slots=True)
class Grant:
    """A token's compiled state. `expire_at` is epoch seconds (None: never)."""

    authorization_id: str
    user_id: str
    org_id: str
    active: bool
    user_active: bool
    expire_at: float | None
    permissions: PermissionSet


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason
    matched: Permission | None = None
    authorization_id: str = ""
    user_id: str = ""
    org_id: str = ""


UNKNOWN = Decision(False, Reason.TOKEN_UNKNOWN)


def usable_reason(grant: Grant | None, now: float) -> Reason | None:
    """Why the token cannot be used at all, or None if it can."""
    if grant is None:
        return Reason.TOKEN_UNKNOWN
    if not grant.active:
        return Reason.TOKEN_INACTIVE
    if grant.expire_at is not None and now >= grant.expire_at:
        return Reason.TOKEN_EXPIRED
    if not grant.user_active:
        return Reason.USER_INACTIVE
    return None


def decide(grant: Grant | None, requested: Permission, now: float) -> Decision:
    if grant is None:
        return UNKNOWN
    reason = usable_reason(grant, now)
    matched = None
    if reason is None:
        matched = grant.permissions.first_match(requested)
        reason = Reason.ALLOWED if matched is not None else Reason.NO_MATCHING_PERMISSION
    return Decision(
        reason is Reason.ALLOWED,
        reason,
        matched,
        grant.authorization_id,
        grant.user_id,
        grant.org_id,
    )
