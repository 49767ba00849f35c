"""SPEC §2: a token's answer, in the fixed order of reasons."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from service.domain.decision import Decision, Grant, Reason, decide, usable_reason
from service.domain.permissions import Action, Permission, PermissionSet, ResourceType

AUTH_ID = "0a1b2c3d4e5f6071"
USER_ID = "1b2c3d4e5f607182"
ORG_ID = "2c3d4e5f60718293"
BUCKET = "3d4e5f60718293a4"
NOW = 1_700_000_000.0

READ_BUCKET = Permission(Action.READ, ResourceType.BUCKETS, ORG_ID, BUCKET)
GRANTED = [
    Permission(Action.WRITE, ResourceType.BUCKETS, org_id=ORG_ID),
    Permission(Action.READ, ResourceType.BUCKETS, ORG_ID, BUCKET),
    Permission(Action.READ, ResourceType.BUCKETS, org_id=ORG_ID),
    Permission(Action.READ, ResourceType.INSTANCE),
]


def grant(
    *,
    active: bool = True,
    user_active: bool = True,
    expire_at: float | None = None,
    permissions: list[Permission] | None = None,
) -> Grant:
    return Grant(
        authorization_id=AUTH_ID,
        user_id=USER_ID,
        org_id=ORG_ID,
        active=active,
        user_active=user_active,
        expire_at=expire_at,
        permissions=PermissionSet(GRANTED if permissions is None else permissions),
    )


def test_unknown_token() -> None:
    d = decide(None, READ_BUCKET, NOW)
    assert d == Decision(False, Reason.TOKEN_UNKNOWN)
    assert d.matched is None
    assert (d.authorization_id, d.user_id, d.org_id) == ("", "", "")
    assert usable_reason(None, NOW) is Reason.TOKEN_UNKNOWN


def test_allowed_carries_first_match_and_ids() -> None:
    d = decide(grant(), READ_BUCKET, NOW)
    assert d == Decision(True, Reason.ALLOWED, GRANTED[1], AUTH_ID, USER_ID, ORG_ID)


def test_allowed_matched_is_earliest_even_if_less_specific() -> None:
    order = [GRANTED[3], GRANTED[2], GRANTED[1]]
    d = decide(grant(permissions=order), READ_BUCKET, NOW)
    assert d.allowed
    assert d.matched == Permission(Action.READ, ResourceType.INSTANCE)


def test_no_matching_permission_carries_ids() -> None:
    requested = Permission(Action.WRITE, ResourceType.USERS, id=USER_ID)
    d = decide(grant(), requested, NOW)
    assert d == Decision(False, Reason.NO_MATCHING_PERMISSION, None, AUTH_ID, USER_ID, ORG_ID)


def test_no_matching_permission_on_empty_grant() -> None:
    d = decide(grant(permissions=[]), READ_BUCKET, NOW)
    assert d.reason is Reason.NO_MATCHING_PERMISSION
    assert not d.allowed


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"active": False}, Reason.TOKEN_INACTIVE),
        ({"expire_at": NOW - 1}, Reason.TOKEN_EXPIRED),
        ({"user_active": False}, Reason.USER_INACTIVE),
    ],
)
def test_each_unusable_state_alone(kwargs: dict[str, Any], reason: Reason) -> None:
    d = decide(grant(**kwargs), READ_BUCKET, NOW)
    assert d == Decision(False, reason, None, AUTH_ID, USER_ID, ORG_ID)
    assert usable_reason(grant(**kwargs), NOW) is reason


def test_inactive_and_expired_is_inactive() -> None:
    d = decide(grant(active=False, expire_at=NOW - 10), READ_BUCKET, NOW)
    assert d.reason is Reason.TOKEN_INACTIVE


def test_expired_and_user_inactive_is_expired() -> None:
    d = decide(grant(expire_at=NOW - 10, user_active=False), READ_BUCKET, NOW)
    assert d.reason is Reason.TOKEN_EXPIRED


def test_inactive_and_user_inactive_is_inactive() -> None:
    d = decide(grant(active=False, user_active=False), READ_BUCKET, NOW)
    assert d.reason is Reason.TOKEN_INACTIVE


def test_user_inactive_comes_before_no_matching_permission() -> None:
    requested = Permission(Action.WRITE, ResourceType.USERS, id=USER_ID)
    d = decide(grant(user_active=False), requested, NOW)
    assert d.reason is Reason.USER_INACTIVE


def test_unusable_token_is_denied_even_when_a_permission_matches() -> None:
    """Matching is not even reported for an unusable token."""
    for kwargs in ({"active": False}, {"expire_at": NOW}, {"user_active": False}):
        d = decide(grant(**kwargs), READ_BUCKET, NOW)
        assert not d.allowed
        assert d.matched is None


@pytest.mark.parametrize(
    ("active", "expired", "user_active", "matches"),
    list(itertools.product([True, False], repeat=4)),
)
def test_reason_order_over_all_combinations(
    active: bool, expired: bool, user_active: bool, matches: bool
) -> None:
    requested = READ_BUCKET if matches else Permission(Action.WRITE, ResourceType.ORGS)
    g = grant(active=active, user_active=user_active, expire_at=NOW - 1 if expired else NOW + 1)
    if not active:
        expected = Reason.TOKEN_INACTIVE
    elif expired:
        expected = Reason.TOKEN_EXPIRED
    elif not user_active:
        expected = Reason.USER_INACTIVE
    elif matches:
        expected = Reason.ALLOWED
    else:
        expected = Reason.NO_MATCHING_PERMISSION
    d = decide(g, requested, NOW)
    assert d.reason is expected
    assert d.allowed is (expected is Reason.ALLOWED)
    assert (d.authorization_id, d.user_id, d.org_id) == (AUTH_ID, USER_ID, ORG_ID)


def test_expiry_boundary() -> None:
    g = grant(expire_at=NOW)
    assert decide(g, READ_BUCKET, NOW - 0.001).reason is Reason.ALLOWED
    assert decide(g, READ_BUCKET, NOW).reason is Reason.TOKEN_EXPIRED
    assert decide(g, READ_BUCKET, NOW + 0.001).reason is Reason.TOKEN_EXPIRED


def test_no_expiry_never_expires() -> None:
    g = grant(expire_at=None)
    assert decide(g, READ_BUCKET, 1e12).reason is Reason.ALLOWED
    assert usable_reason(g, 1e12) is None


def test_decision_uses_the_grant_ids_not_constants() -> None:
    g = replace(grant(), authorization_id="a" * 16, user_id="b" * 16, org_id="c" * 16)
    d = decide(g, READ_BUCKET, NOW)
    assert (d.authorization_id, d.user_id, d.org_id) == ("a" * 16, "b" * 16, "c" * 16)


def test_reason_numbers_are_stable() -> None:
    assert {r.name: int(r) for r in Reason} == {
        "ALLOWED": 1,
        "TOKEN_UNKNOWN": 2,
        "TOKEN_INACTIVE": 3,
        "TOKEN_EXPIRED": 4,
        "USER_INACTIVE": 5,
        "NO_MATCHING_PERMISSION": 6,
    }
