"""SPEC §3: the permission lists of the OPERATOR and ALL_ACCESS presets, exactly."""

from __future__ import annotations

from service.domain.permissions import (
    Action,
    Permission,
    PermissionSet,
    ResourceType,
)
from service.domain.presets import (
    all_access_permissions,
    holds_instance_write,
    operator_permissions,
)

ORG = "0a1b2c3d4e5f6071"
USER = "1b2c3d4e5f607182"
OTHER_ORG = "2c3d4e5f60718293"
OTHER_USER = "3d4e5f60718293a4"
SOME_ID = "4e5f60718293a4b5"

# Written out by hand, in the order the server returns them.
OPERATOR_TEXT = [
    "read:authorizations", "write:authorizations",
    "read:buckets", "write:buckets",
    "read:dashboards", "write:dashboards",
    "read:orgs", "write:orgs",
    "read:sources", "write:sources",
    "read:tasks", "write:tasks",
    "read:telegrafs", "write:telegrafs",
    "read:users", "write:users",
    "read:variables", "write:variables",
    "read:scrapers", "write:scrapers",
    "read:secrets", "write:secrets",
    "read:labels", "write:labels",
    "read:views", "write:views",
    "read:documents", "write:documents",
    "read:notificationRules", "write:notificationRules",
    "read:notificationEndpoints", "write:notificationEndpoints",
    "read:checks", "write:checks",
    "read:dbrp", "write:dbrp",
    "read:notebooks", "write:notebooks",
    "read:annotations", "write:annotations",
    "read:remotes", "write:remotes",
    "read:replications", "write:replications",
    "read:instance", "write:instance",
]  # fmt: skip

ALL_ACCESS_TEXT = [
    f"read:orgs/{ORG}/authorizations", f"write:orgs/{ORG}/authorizations",
    f"read:orgs/{ORG}/buckets", f"write:orgs/{ORG}/buckets",
    f"read:orgs/{ORG}/dashboards", f"write:orgs/{ORG}/dashboards",
    f"read:orgs/{ORG}",
    f"read:orgs/{ORG}/sources", f"write:orgs/{ORG}/sources",
    f"read:orgs/{ORG}/tasks", f"write:orgs/{ORG}/tasks",
    f"read:orgs/{ORG}/telegrafs", f"write:orgs/{ORG}/telegrafs",
    f"read:users/{USER}", f"write:users/{USER}",
    f"read:orgs/{ORG}/users", f"write:orgs/{ORG}/users",
    f"read:orgs/{ORG}/variables", f"write:orgs/{ORG}/variables",
    f"read:orgs/{ORG}/scrapers", f"write:orgs/{ORG}/scrapers",
    f"read:orgs/{ORG}/secrets", f"write:orgs/{ORG}/secrets",
    f"read:orgs/{ORG}/labels", f"write:orgs/{ORG}/labels",
    f"read:orgs/{ORG}/views", f"write:orgs/{ORG}/views",
    f"read:orgs/{ORG}/documents", f"write:orgs/{ORG}/documents",
    f"read:orgs/{ORG}/notificationRules", f"write:orgs/{ORG}/notificationRules",
    f"read:orgs/{ORG}/notificationEndpoints", f"write:orgs/{ORG}/notificationEndpoints",
    f"read:orgs/{ORG}/checks", f"write:orgs/{ORG}/checks",
    f"read:orgs/{ORG}/dbrp", f"write:orgs/{ORG}/dbrp",
    f"read:orgs/{ORG}/notebooks", f"write:orgs/{ORG}/notebooks",
    f"read:orgs/{ORG}/annotations", f"write:orgs/{ORG}/annotations",
    f"read:orgs/{ORG}/remotes", f"write:orgs/{ORG}/remotes",
    f"read:orgs/{ORG}/replications", f"write:orgs/{ORG}/replications",
]  # fmt: skip


# OPERATOR


def test_operator_exact_list() -> None:
    ps = operator_permissions()
    assert len(ps) == 46
    assert [str(p) for p in ps] == OPERATOR_TEXT


def test_operator_permissions_are_all_global_and_distinct() -> None:
    ps = operator_permissions()
    assert all(p.org_id == "" and p.id == "" for p in ps)
    assert len(set(ps)) == 46


def test_operator_covers_every_type_with_read_and_write() -> None:
    ps = operator_permissions()
    assert {(p.action, p.type) for p in ps} == {(a, t) for a in Action for t in ResourceType}
    assert Permission(Action.READ, ResourceType.INSTANCE) in ps
    assert Permission(Action.WRITE, ResourceType.INSTANCE) in ps
    assert holds_instance_write(ps)


def test_operator_allows_anything_in_any_org() -> None:
    granted = PermissionSet(operator_permissions())
    for a in Action:
        for t in ResourceType:
            for org_id, rid in (("", ""), (OTHER_ORG, ""), ("", SOME_ID), (OTHER_ORG, SOME_ID)):
                assert granted.allows(Permission(a, t, org_id, rid))


def test_operator_lists_are_fresh_each_call() -> None:
    first = operator_permissions()
    first.clear()
    assert len(operator_permissions()) == 46


# ALL_ACCESS


def test_all_access_exact_list() -> None:
    ps = all_access_permissions(ORG, USER)
    assert len(ps) == 45
    assert [str(p) for p in ps] == ALL_ACCESS_TEXT


def test_all_access_structure() -> None:
    ps = all_access_permissions(ORG, USER)
    assert len(set(ps)) == 45
    assert not any(p.type == ResourceType.INSTANCE for p in ps)
    assert not holds_instance_write(ps)
    # The org itself: read only, named by id.
    orgs = [p for p in ps if p.type == ResourceType.ORGS]
    assert orgs == [Permission(Action.READ, ResourceType.ORGS, id=ORG)]
    # The owner: read and write.
    assert Permission(Action.READ, ResourceType.USERS, id=USER) in ps
    assert Permission(Action.WRITE, ResourceType.USERS, id=USER) in ps
    # Every other non-instance type (users included): read+write org-wide in ORG.
    org_wide = {(p.action, p.type) for p in ps if p.org_id == ORG and p.id == ""}
    excluded = (ResourceType.INSTANCE, ResourceType.ORGS)
    expected_types = [t for t in ResourceType if t not in excluded]
    assert len(expected_types) == 21
    assert org_wide == {(a, t) for a in Action for t in expected_types}
    # Nothing global, nothing in any other org.
    assert all(p.org_id in ("", ORG) for p in ps)
    assert all(p.org_id or p.id for p in ps)


def test_all_access_uses_its_arguments() -> None:
    ps = all_access_permissions(OTHER_ORG, OTHER_USER)
    text = [str(p) for p in ps]
    assert text == [s.replace(ORG, OTHER_ORG).replace(USER, OTHER_USER) for s in ALL_ACCESS_TEXT]


def test_all_access_allows_its_own_org() -> None:
    granted = PermissionSet(all_access_permissions(ORG, USER))
    assert granted.allows(Permission(Action.READ, ResourceType.ORGS, id=ORG))
    assert granted.allows(Permission(Action.WRITE, ResourceType.BUCKETS, ORG, SOME_ID))
    assert granted.allows(Permission(Action.READ, ResourceType.BUCKETS, org_id=ORG))
    assert granted.allows(Permission(Action.WRITE, ResourceType.AUTHORIZATIONS, ORG, SOME_ID))
    assert granted.allows(Permission(Action.WRITE, ResourceType.USERS, id=USER))


def test_all_access_does_not_let_the_token_into_another_org() -> None:
    granted = PermissionSet(all_access_permissions(ORG, USER))
    denied = [
        Permission(Action.READ, ResourceType.ORGS, id=OTHER_ORG),
        Permission(Action.READ, ResourceType.ORGS),
        Permission(Action.READ, ResourceType.BUCKETS, org_id=OTHER_ORG),
        Permission(Action.READ, ResourceType.BUCKETS, OTHER_ORG, SOME_ID),
        Permission(Action.WRITE, ResourceType.AUTHORIZATIONS, org_id=OTHER_ORG),
        # A request naming only an id is not matched by org-wide grants.
        Permission(Action.READ, ResourceType.BUCKETS, id=SOME_ID),
        Permission(Action.READ, ResourceType.BUCKETS),
        Permission(Action.READ, ResourceType.USERS, id=OTHER_USER),
        Permission(Action.READ, ResourceType.USERS),
    ]
    assert [p for p in denied if granted.allows(p)] == []


def test_all_access_cannot_write_its_org_or_touch_the_instance() -> None:
    granted = PermissionSet(all_access_permissions(ORG, USER))
    assert not granted.allows(Permission(Action.WRITE, ResourceType.ORGS, id=ORG))
    assert not granted.allows(Permission(Action.WRITE, ResourceType.ORGS))
    assert not granted.allows(Permission(Action.READ, ResourceType.INSTANCE))
    assert not granted.allows(Permission(Action.WRITE, ResourceType.INSTANCE))
    assert not granted.allows(Permission(Action.WRITE, ResourceType.USERS))


def test_all_access_is_covered_by_operator_but_not_the_reverse() -> None:
    """A holder of OPERATOR may mint ALL_ACCESS (it holds every permission granted)."""
    operator = PermissionSet(operator_permissions())
    all_access = PermissionSet(all_access_permissions(ORG, USER))
    assert operator.first_missing(all_access_permissions(ORG, USER)) is None
    assert all_access.first_missing(operator_permissions()) == Permission(
        Action.READ, ResourceType.AUTHORIZATIONS
    )


def test_holds_instance_write() -> None:
    assert holds_instance_write([Permission(Action.WRITE, ResourceType.INSTANCE)])
    assert not holds_instance_write([Permission(Action.READ, ResourceType.INSTANCE)])
    assert not holds_instance_write([Permission(Action.WRITE, ResourceType.ORGS)])
    assert not holds_instance_write([])
