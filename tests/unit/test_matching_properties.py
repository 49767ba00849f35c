"""Property tests: the matching rule against a brute-force reference written straight
from SPEC §2, the compiled PermissionSet against a linear scan, and the text form.

Ids and orgs come from a small pool (and the org pool shares a value with the id pool)
so that equal and crossed ids happen often."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.errors import InvalidArgument
from service.domain.permissions import (
    Action,
    Permission,
    PermissionSet,
    ResourceType,
    format_permission,
    match_permission,
    parse_permission,
)

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

POOL_A = "0a1b2c3d4e5f6071"
POOL_B = "1b2c3d4e5f607182"
POOL_C = "2c3d4e5f60718293"
ORG_POOL = ("", POOL_A, POOL_B)
ID_POOL = ("", POOL_A, POOL_C)
# Few types so that equal types are common; instance included, plus orgs and users
# whose ids are commonly other types' org ids.
TYPE_POOL = (
    ResourceType.BUCKETS,
    ResourceType.ORGS,
    ResourceType.USERS,
    ResourceType.INSTANCE,
)


# The reference: SPEC §2 as an ordered table of (applies, answer) rules, the first
# rule that applies decides. Written from the text, not from the implementation.

Rule = tuple[Callable[[Permission, Permission], bool], Callable[[Permission, Permission], bool]]


def _has_org(p: Permission) -> bool:
    return p.org_id != ""


def _has_id(p: Permission) -> bool:
    return p.id != ""


SPEC_RULES: list[Rule] = [
    # 1. p.action != r.action → no.
    (lambda p, r: p.action != r.action, lambda p, r: False),
    # 2. p.type == instance → yes.
    (lambda p, r: p.type == ResourceType.INSTANCE, lambda p, r: True),
    # 3. p.type != r.type → no.
    (lambda p, r: p.type != r.type, lambda p, r: False),
    # 4. p has neither org nor id (global) → yes.
    (lambda p, r: not _has_org(p) and not _has_id(p), lambda p, r: True),
    # 5. p has org, no id → yes iff r.org == p.org.
    (lambda p, r: _has_org(p) and not _has_id(p), lambda p, r: r.org_id == p.org_id),
    # 6. p has id and no org → yes iff r.id == p.id (whatever r's org).
    (lambda p, r: _has_id(p) and not _has_org(p), lambda p, r: r.id == p.id),
    #    p has id and org → yes iff r.id == p.id and r.org == p.org.
    (lambda p, r: _has_id(p), lambda p, r: r.id == p.id and r.org_id == p.org_id),
    # 7. otherwise no.
    (lambda p, r: True, lambda p, r: False),
]


def reference_match(p: Permission, r: Permission) -> bool:
    for applies, answer in SPEC_RULES:
        if applies(p, r):
            return answer(p, r)
    raise AssertionError("rule 7 always applies")


def reference_first_match(granted: list[Permission], r: Permission) -> Permission | None:
    for p in granted:
        if reference_match(p, r):
            return p
    return None


pooled_permissions = st.builds(
    Permission,
    action=st.sampled_from(list(Action)),
    type=st.sampled_from(TYPE_POOL),
    org_id=st.sampled_from(ORG_POOL),
    id=st.sampled_from(ID_POOL),
)

any_type_permissions = st.builds(
    Permission,
    action=st.sampled_from(list(Action)),
    type=st.sampled_from(list(ResourceType)),
    org_id=st.sampled_from(ORG_POOL),
    id=st.sampled_from(ID_POOL),
)

permissions = st.one_of(pooled_permissions, any_type_permissions)


# (a) match_permission against the reference.


@SETTINGS
@given(granted=permissions, requested=permissions)
def test_match_permission_equals_reference(granted: Permission, requested: Permission) -> None:
    assert match_permission(granted, requested) == reference_match(granted, requested)


def test_match_permission_equals_reference_exhaustively_over_the_pool() -> None:
    """The pool is small enough to try every pair (72 × 72): no example is left out."""
    pool = [
        Permission(a, t, o, i)
        for a, t, o, i in itertools.product(Action, TYPE_POOL, ORG_POOL, ID_POOL)
    ]
    assert len(pool) == 72
    disagreements = [
        (format_permission(p), format_permission(r))
        for p in pool
        for r in pool
        if match_permission(p, r) != reference_match(p, r)
    ]
    assert disagreements == []
    allowed = sum(match_permission(p, r) for p in pool for r in pool)
    # Sanity: the pool exercises both answers plentifully.
    assert 500 < allowed < 72 * 72 - 500


# (b) PermissionSet.first_match against a linear scan.


@SETTINGS
@given(granted=st.lists(permissions, max_size=12), requested=permissions)
def test_first_match_equals_linear_scan(granted: list[Permission], requested: Permission) -> None:
    ps = PermissionSet(granted)
    expected = next((p for p in granted if match_permission(p, requested)), None)
    assert expected == reference_first_match(granted, requested)
    found = ps.first_match(requested)
    assert found == expected
    if found is not None:
        # The earliest one: the same object position, not merely an equal value later.
        assert granted.index(found) == next(
            i for i, p in enumerate(granted) if match_permission(p, requested)
        )
    assert ps.allows(requested) == (expected is not None)


@SETTINGS
@given(
    granted=st.lists(permissions, max_size=12),
    wanted=st.lists(permissions, max_size=8),
)
def test_first_missing_equals_linear_scan(
    granted: list[Permission], wanted: list[Permission]
) -> None:
    expected = next((w for w in wanted if not any(match_permission(p, w) for p in granted)), None)
    assert PermissionSet(granted).first_missing(wanted) == expected


# (c) Text form.

valid_ids = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16).filter(
    lambda s: s != "0" * 16
)

text_permissions = st.builds(
    Permission,
    action=st.sampled_from(list(Action)),
    type=st.sampled_from(list(ResourceType)),
    org_id=st.one_of(st.just(""), valid_ids),
    id=st.one_of(st.just(""), valid_ids),
)


@SETTINGS
@given(p=text_permissions)
def test_format_parse_round_trip(p: Permission) -> None:
    text = format_permission(p)
    assert parse_permission(text) == p
    assert str(p) == text


# Texts built from the pieces of the grammar, valid or not, including empty and
# surplus segments: whatever parses must format back to exactly the same text
# (no second spelling of one permission, nothing silently dropped).
segments = st.one_of(
    st.sampled_from(["orgs", "", "buckets", "users", "instance", "0" * 16, POOL_A, POOL_C]),
    st.sampled_from([t.spelling for t in ResourceType] + ["Buckets", "notification_rules"]),
    valid_ids,
    st.text(alphabet="abcdef0123456789/:", max_size=17),
)
candidate_texts = st.builds(
    lambda action, parts: f"{action}{'/'.join(parts)}",
    st.sampled_from(["read:", "write:", "READ:", "", "read", "delete:", "read::"]),
    st.lists(segments, min_size=0, max_size=5),
)


@SETTINGS
@given(text=candidate_texts)
def test_parse_accepts_only_the_canonical_text(text: str) -> None:
    try:
        p = parse_permission(text)
    except InvalidArgument as exc:
        assert exc.reason == "INVALID_PERMISSION"
        assert exc.field == "permission"
        return
    assert format_permission(p) == text


@pytest.mark.parametrize(
    "text",
    [
        "read:orgs//buckets",
        "read:buckets/",
        "read:orgs/0a1b2c3d4e5f6071/",
        "read:orgs/0a1b2c3d4e5f6071/buckets/",
        "read:/buckets",
        "read:orgs//buckets/2c3d4e5f60718293",
    ],
)
def test_parse_rejects_empty_segments(text: str) -> None:
    """An empty org or id must not widen a permission to global (e.g. a typo'd
    `read:orgs//buckets` becoming `read:buckets`)."""
    with pytest.raises(InvalidArgument) as info:
        parse_permission(text)
    assert info.value.reason == "INVALID_PERMISSION"
