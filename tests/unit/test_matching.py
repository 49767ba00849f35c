"""SPEC §2: does granted permission p match requested permission r? One test per rule
and per listed consequence, each checked through match_permission and through the
compiled PermissionSet (the hot path must agree with the rule)."""

from __future__ import annotations

import pytest

from service.domain.permissions import (
    Action,
    Permission,
    PermissionSet,
    ResourceType,
    match_permission,
)

R, W = Action.READ, Action.WRITE
ORG_A = "0a1b2c3d4e5f6071"
ORG_B = "1b2c3d4e5f607182"
ID_X = "2c3d4e5f60718293"
ID_Y = "3d4e5f60718293a4"
NON_INSTANCE = [t for t in ResourceType if t != ResourceType.INSTANCE]


def matches(granted: Permission, requested: Permission) -> bool:
    """Both implementations, which must agree."""
    by_rule = match_permission(granted, requested)
    by_set = PermissionSet([granted]).first_match(requested)
    assert by_set == (granted if by_rule else None)
    return by_rule


# Rule 1: p.action != r.action → no. Write does not imply read.


def test_rule1_write_does_not_imply_read() -> None:
    for t in ResourceType:
        assert not matches(Permission(W, t), Permission(R, t))


def test_rule1_read_does_not_imply_write() -> None:
    for t in ResourceType:
        assert not matches(Permission(R, t), Permission(W, t))


def test_rule1_instance_write_does_not_grant_read() -> None:
    assert not matches(Permission(W, ResourceType.INSTANCE), Permission(R, ResourceType.BUCKETS))
    assert not matches(Permission(W, ResourceType.INSTANCE), Permission(R, ResourceType.INSTANCE))


# Rule 2: p.type == instance → yes (any type, org and id), for its action.


@pytest.mark.parametrize("action", [R, W])
@pytest.mark.parametrize("rtype", list(ResourceType))
def test_rule2_instance_matches_any_type_org_and_id(action: Action, rtype: ResourceType) -> None:
    granted = Permission(action, ResourceType.INSTANCE)
    for org_id in ("", ORG_A):
        for rid in ("", ID_X):
            assert matches(granted, Permission(action, rtype, org_id, rid))


def test_rule2_instance_grant_naming_an_org_still_matches_everything() -> None:
    granted = Permission(R, ResourceType.INSTANCE, org_id=ORG_A, id=ID_X)
    assert matches(granted, Permission(R, ResourceType.BUCKETS, ORG_B, ID_Y))
    assert matches(granted, Permission(R, ResourceType.ORGS))


# Rule 3: p.type != r.type → no.


def test_rule3_other_type_does_not_match() -> None:
    for granted_type in NON_INSTANCE:
        for requested_type in ResourceType:
            if requested_type == granted_type:
                continue
            assert not matches(Permission(R, granted_type), Permission(R, requested_type))


def test_rule3_other_type_does_not_match_with_same_org_and_id() -> None:
    granted = Permission(W, ResourceType.BUCKETS, ORG_A, ID_X)
    assert not matches(granted, Permission(W, ResourceType.DASHBOARDS, ORG_A, ID_X))


def test_rule3_global_grant_of_a_type_does_not_match_instance_request() -> None:
    assert not matches(Permission(W, ResourceType.ORGS), Permission(W, ResourceType.INSTANCE))


# Rule 4: p has neither org nor id (global) → yes.


@pytest.mark.parametrize("rtype", NON_INSTANCE)
def test_rule4_global_grant_matches_any_org_and_id(rtype: ResourceType) -> None:
    granted = Permission(R, rtype)
    for org_id in ("", ORG_A, ORG_B):
        for rid in ("", ID_X):
            assert matches(granted, Permission(R, rtype, org_id, rid))


# Rule 5: p has org, no id → yes iff r.org == p.org.


def test_rule5_org_wide_grant_matches_same_org() -> None:
    granted = Permission(R, ResourceType.BUCKETS, org_id=ORG_A)
    assert matches(granted, Permission(R, ResourceType.BUCKETS, org_id=ORG_A))
    assert matches(granted, Permission(R, ResourceType.BUCKETS, org_id=ORG_A, id=ID_X))


def test_rule5_org_wide_grant_does_not_match_other_org() -> None:
    granted = Permission(R, ResourceType.BUCKETS, org_id=ORG_A)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, org_id=ORG_B))
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, org_id=ORG_B, id=ID_X))


def test_rule5_org_wide_grant_does_not_match_request_without_org() -> None:
    granted = Permission(R, ResourceType.BUCKETS, org_id=ORG_A)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS))


def test_rule5_org_wide_grant_does_not_match_its_org_id_used_as_resource_id() -> None:
    granted = Permission(R, ResourceType.BUCKETS, org_id=ORG_A)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, id=ORG_A))


# Rule 6: p has id → yes iff r.id == p.id, unless both carry an org and they differ.


def test_rule6_id_grant_matches_same_id() -> None:
    granted = Permission(R, ResourceType.BUCKETS, id=ID_X)
    assert matches(granted, Permission(R, ResourceType.BUCKETS, id=ID_X))


def test_rule6_id_grant_does_not_match_other_id() -> None:
    granted = Permission(R, ResourceType.BUCKETS, id=ID_X)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, id=ID_Y))
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, ORG_A, ID_Y))


def test_rule6_id_grant_does_not_match_request_without_id() -> None:
    assert not matches(
        Permission(R, ResourceType.BUCKETS, id=ID_X), Permission(R, ResourceType.BUCKETS)
    )
    assert not matches(
        Permission(R, ResourceType.BUCKETS, ORG_A, ID_X),
        Permission(R, ResourceType.BUCKETS, org_id=ORG_A),
    )


def test_rule6_same_id_same_org_matches() -> None:
    granted = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    assert matches(granted, Permission(R, ResourceType.BUCKETS, ORG_A, ID_X))


def test_rule6_same_id_differing_orgs_denies() -> None:
    """authzd differs from InfluxDB 2.x here: InfluxDB ignores the org and allows."""
    granted = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, ORG_B, ID_X))


def test_rule6_id_grant_with_org_does_not_match_request_without_org() -> None:
    """SPEC §2 rule 6 (this round): a grant that names an org never reaches outside
    it, not even to a request that names no org. The old reading let an
    All-Access token mint `orgs/O/users/<ada>`, which matched `users/<ada>`."""
    granted = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    assert not matches(granted, Permission(R, ResourceType.BUCKETS, id=ID_X))
    assert matches(granted, Permission(R, ResourceType.BUCKETS, ORG_A, ID_X))


def test_org_scoped_user_grant_does_not_match_user_requests() -> None:
    granted = Permission(W, ResourceType.USERS, ORG_A, ID_X)
    assert not matches(granted, Permission(W, ResourceType.USERS, id=ID_X))


def test_rule6_id_grant_without_org_matches_request_with_any_org() -> None:
    granted = Permission(W, ResourceType.USERS, id=ID_X)
    assert matches(granted, Permission(W, ResourceType.USERS, org_id=ORG_A, id=ID_X))
    assert matches(granted, Permission(W, ResourceType.USERS, org_id=ORG_B, id=ID_X))


# Rule 7 (otherwise no) has no reachable input of its own after rules 1–6; the
# consequences below are where "no" must come out.


def test_org_wide_grant_does_not_match_request_naming_only_an_id() -> None:
    assert not matches(
        Permission(R, ResourceType.USERS, org_id=ORG_A), Permission(R, ResourceType.USERS, id=ID_X)
    )
    assert not matches(
        Permission(R, ResourceType.ORGS, org_id=ORG_A), Permission(R, ResourceType.ORGS, id=ORG_B)
    )


def test_org_wide_orgs_grant_does_not_match_reading_that_org() -> None:
    """{orgs, org_id: O} does not match {orgs, id: O}."""
    assert not matches(
        Permission(R, ResourceType.ORGS, org_id=ORG_A), Permission(R, ResourceType.ORGS, id=ORG_A)
    )


def test_reading_an_org_is_matched_by_the_org_itself() -> None:
    assert matches(
        Permission(R, ResourceType.ORGS, id=ORG_A), Permission(R, ResourceType.ORGS, id=ORG_A)
    )
    assert not matches(
        Permission(R, ResourceType.ORGS, id=ORG_A), Permission(R, ResourceType.ORGS, id=ORG_B)
    )


def test_request_with_no_org_and_no_id_matched_only_by_global_or_instance() -> None:
    requested = Permission(R, ResourceType.BUCKETS)
    grants = {
        Permission(R, ResourceType.INSTANCE): True,
        Permission(R, ResourceType.BUCKETS): True,
        Permission(R, ResourceType.BUCKETS, org_id=ORG_A): False,
        Permission(R, ResourceType.BUCKETS, id=ID_X): False,
        Permission(R, ResourceType.BUCKETS, ORG_A, ID_X): False,
        Permission(W, ResourceType.BUCKETS): False,
        Permission(W, ResourceType.INSTANCE): False,
        Permission(R, ResourceType.ORGS): False,
    }
    assert {g: matches(g, requested) for g in grants} == grants


def test_match_is_not_symmetric() -> None:
    wide = Permission(R, ResourceType.BUCKETS)
    narrow = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    assert matches(wide, narrow)
    assert not matches(narrow, wide)


# PermissionSet: the compiled form returns the earliest match, not the most specific.


def test_first_match_returns_earliest_granted_not_most_specific() -> None:
    specific = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    org_wide = Permission(R, ResourceType.BUCKETS, org_id=ORG_A)
    global_ = Permission(R, ResourceType.BUCKETS)
    instance = Permission(R, ResourceType.INSTANCE)
    requested = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    for order in (
        [specific, org_wide, global_, instance],
        [instance, global_, org_wide, specific],
        [org_wide, specific, instance, global_],
        [global_, instance, specific, org_wide],
    ):
        assert PermissionSet(order).first_match(requested) == order[0]


def test_first_match_skips_id_grant_of_other_org_and_finds_later_one() -> None:
    other_org = Permission(R, ResourceType.BUCKETS, ORG_B, ID_X)
    same_org = Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)
    ps = PermissionSet([other_org, same_org])
    assert ps.first_match(Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)) == same_org
    assert ps.first_match(Permission(R, ResourceType.BUCKETS, ORG_B, ID_X)) == other_org
    assert ps.first_match(Permission(R, ResourceType.BUCKETS, id=ID_X)) is None
    no_org = Permission(R, ResourceType.BUCKETS, id=ID_X)
    ps = PermissionSet([other_org, no_org, same_org])
    assert ps.first_match(Permission(R, ResourceType.BUCKETS, ORG_A, ID_X)) == no_org
    assert ps.first_match(Permission(R, ResourceType.BUCKETS, id=ID_X)) == no_org


def test_empty_permission_set_matches_nothing() -> None:
    ps = PermissionSet([])
    assert len(ps) == 0
    assert ps.first_match(Permission(R, ResourceType.BUCKETS)) is None
    assert not ps.allows(Permission(R, ResourceType.INSTANCE))


def test_allows_and_first_missing() -> None:
    ps = PermissionSet(
        [Permission(R, ResourceType.BUCKETS, org_id=ORG_A), Permission(W, ResourceType.USERS)]
    )
    assert len(ps) == 2
    assert ps.allows(Permission(R, ResourceType.BUCKETS, ORG_A, ID_X))
    assert not ps.allows(Permission(W, ResourceType.BUCKETS, ORG_A, ID_X))
    wanted = [
        Permission(W, ResourceType.USERS, id=ID_X),
        Permission(R, ResourceType.BUCKETS, org_id=ORG_B),
        Permission(W, ResourceType.BUCKETS, org_id=ORG_A),
    ]
    assert ps.first_missing(wanted) == wanted[1]
    assert ps.first_missing(wanted[:1]) is None
    assert ps.first_missing([]) is None
