"""SPEC §2 "granting is coverage", by brute force over a small universe.

The universe: all 23 types × (no org + 3 orgs) × (no id + 3 ids) × both actions
(736 permissions), used both as grants and as requests. For each permission p,
`M[p]` is the set of universe requests p matches (a bitmask). A caller set S
covers p when M[p] ⊆ ∪ M[s]. The service asks the cheaper question "does S
match p, taken as a request?" (`PermissionSet.covers`); these tests prove that
this never lets a caller grant more than it holds.
"""

from __future__ import annotations

import itertools
from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.permissions import (
    Action,
    Permission,
    PermissionSet,
    ResourceType,
    match_permission,
)
from service.domain.presets import all_access_permissions, operator_permissions

ORGS = ("0a0000000000000a", "0b0000000000000b", "0c0000000000000c")
IDS = ("1a0000000000000a", "1b0000000000000b", "1c0000000000000c")

UNIVERSE: tuple[Permission, ...] = tuple(
    Permission(action, rtype, org, rid)
    for action in Action
    for rtype in ResourceType
    for org in ("", *ORGS)
    for rid in ("", *IDS)
)
INDEX = {p: i for i, p in enumerate(UNIVERSE)}


def _mask(p: Permission) -> int:
    bits = 0
    for i, r in enumerate(UNIVERSE):
        if match_permission(p, r):
            bits |= 1 << i
    return bits


MASK = {p: _mask(p) for p in UNIVERSE}


def mask(p: Permission) -> int:
    """What p matches among the universe's requests (p itself may lie outside
    it, e.g. a preset's `read:orgs/<org>`)."""
    found = MASK.get(p)
    return _mask(p) if found is None else found


def covered(caller: list[Permission], p: Permission) -> bool:
    """The definition: every request p matches is matched by one of the caller's."""
    held = reduce(lambda acc, s: acc | mask(s), caller, 0)
    return mask(p) & ~held == 0


def test_universe_size() -> None:
    assert len(UNIVERSE) == 2 * 23 * 4 * 4 == 736


def test_every_permission_matches_itself() -> None:
    assert all(MASK[p] >> INDEX[p] & 1 for p in UNIVERSE)


def test_one_grant_covers_exactly_what_it_matches_as_a_request() -> None:
    """For every pair (s, p) of the universe (541,696 pairs): s matches p taken as a
    request iff every request p matches is matched by s. With InfluxDB's rule 6
    this fails: `orgs/O/users/U` is matched by `orgs/O/users` but matches
    `users/U`, which `orgs/O/users` does not."""
    wrong = []
    compiled = {s: PermissionSet([s]) for s in UNIVERSE}
    for s, p in itertools.product(UNIVERSE, UNIVERSE):
        allowed = compiled[s].covers(p)
        if allowed != (MASK[p] & ~MASK[s] == 0):
            wrong.append((str(s), str(p)))
            if len(wrong) > 5:
                break
    assert wrong == []


def test_the_escalation_of_the_review_is_refused_by_the_rule() -> None:
    """All-Access of O held `orgs/O/users`, minted `orgs/O/users/<ada>`, which
    matched `users/<ada>` (SetPassword's check) under the old rule 6."""
    org, ada = ORGS[0], IDS[0]
    minted = Permission(Action.WRITE, ResourceType.USERS, org, ada)
    assert PermissionSet(all_access_permissions(org, IDS[1])).covers(minted)
    assert not match_permission(minted, Permission(Action.WRITE, ResourceType.USERS, id=ada))
    assert covered(all_access_permissions(org, IDS[1]), minted)


permissions = st.sampled_from(UNIVERSE)


@settings(max_examples=2500, deadline=None, database=None)
@given(caller=st.lists(permissions, min_size=0, max_size=8), grant=permissions)
def test_create_allowed_implies_coverage(caller: list[Permission], grant: Permission) -> None:
    """What CreateAuthorization asks (`Caller.require(*granted)` → first_missing),
    over random caller sets: allowed ⇒ matches(p) ⊆ matches(S)."""
    if PermissionSet(caller).first_missing([grant]) is None:
        assert covered(caller, grant), (caller, grant)


@settings(max_examples=2000, deadline=None, database=None)
@given(
    caller=st.lists(permissions, min_size=0, max_size=8),
    target=st.lists(permissions, min_size=1, max_size=6),
)
def test_manage_allowed_implies_coverage_of_every_permission(
    caller: list[Permission], target: list[Permission]
) -> None:
    """Update/Delete (and a password reset, over the user's tokens) ask
    `first_missing(target)`: allowed ⇒ every permission of the target is covered."""
    if PermissionSet(caller).first_missing(target) is None:
        assert all(covered(caller, t) for t in target)


@settings(max_examples=2000, deadline=None, database=None)
@given(
    caller=st.lists(permissions, min_size=0, max_size=10),
    org=st.sampled_from(ORGS),
    user=st.sampled_from(IDS),
    preset=st.sampled_from(["operator", "all-access"]),
)
def test_presets_allowed_implies_coverage(
    caller: list[Permission], org: str, user: str, preset: str
) -> None:
    granted = operator_permissions() if preset == "operator" else all_access_permissions(org, user)
    if PermissionSet(caller).first_missing(granted) is None:
        assert all(covered(caller, g) for g in granted)


@settings(max_examples=2000, deadline=None, database=None)
@given(
    tokens=st.lists(st.lists(permissions, min_size=1, max_size=5), min_size=0, max_size=4),
    user=st.sampled_from(IDS),
    request=permissions,
)
def test_session_union_grants_nothing_beyond_the_tokens_and_the_own_user(
    tokens: list[list[Permission]], user: str, request: Permission
) -> None:
    """A session decides with the union of the user's tokens plus read+write
    users/<own id> (SPEC §2); minting from a session is then the same coverage
    question as from a token."""
    from service.app.access import session_permissions

    session = PermissionSet(session_permissions([p for t in tokens for p in t], user))
    own = [Permission(a, ResourceType.USERS, id=user) for a in Action]
    if session.allows(request):
        assert covered([p for t in tokens for p in t] + own, request)
