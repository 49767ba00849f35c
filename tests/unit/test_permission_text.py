"""Resource type spellings and the text form of a permission (SPEC §1)."""

from __future__ import annotations

import pytest

from service.domain.errors import Code, InvalidArgument
from service.domain.permissions import (
    Action,
    Permission,
    ResourceType,
    check_permission,
    format_permission,
    parse_permission,
)

ORG = "0a1b2c3d4e5f6071"
BUCKET = "2c3d4e5f60718293"

SPEC_SPELLINGS = [
    "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs",
    "users", "variables", "scrapers", "secrets", "labels", "views", "documents",
    "notificationRules", "notificationEndpoints", "checks", "dbrp", "notebooks",
    "annotations", "remotes", "replications", "instance",
]  # fmt: skip


def test_there_are_23_types_spelled_as_in_the_spec_in_enum_order() -> None:
    assert len(ResourceType) == 23
    assert [t.spelling for t in ResourceType] == SPEC_SPELLINGS
    assert [int(t) for t in ResourceType] == list(range(1, 24))


@pytest.mark.parametrize("spelling", SPEC_SPELLINGS)
def test_from_spelling_inverts_spelling(spelling: str) -> None:
    assert ResourceType.from_spelling(spelling).spelling == spelling


@pytest.mark.parametrize(
    "text", ["", "bucket", "Buckets", "notification_rules", "notificationrules", "INSTANCE"]
)
def test_from_spelling_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="unknown resource type"):
        ResourceType.from_spelling(text)


def test_action_spelling() -> None:
    assert [a.spelling for a in Action] == ["read", "write"]
    assert [int(a) for a in Action] == [1, 2]


@pytest.mark.parametrize(
    ("permission", "text"),
    [
        (
            Permission(Action.READ, ResourceType.BUCKETS, ORG, BUCKET),
            f"read:orgs/{ORG}/buckets/{BUCKET}",
        ),
        (Permission(Action.READ, ResourceType.BUCKETS, org_id=ORG), f"read:orgs/{ORG}/buckets"),
        (Permission(Action.READ, ResourceType.BUCKETS, id=BUCKET), f"read:buckets/{BUCKET}"),
        (Permission(Action.READ, ResourceType.BUCKETS), "read:buckets"),
        (Permission(Action.READ, ResourceType.ORGS, id=ORG), f"read:orgs/{ORG}"),
        (Permission(Action.WRITE, ResourceType.ORGS, org_id=ORG), f"write:orgs/{ORG}/orgs"),
        (Permission(Action.WRITE, ResourceType.INSTANCE), "write:instance"),
        (
            Permission(Action.WRITE, ResourceType.NOTIFICATION_ENDPOINTS, org_id=ORG),
            f"write:orgs/{ORG}/notificationEndpoints",
        ),
    ],
)
def test_text_form_examples(permission: Permission, text: str) -> None:
    assert format_permission(permission) == text
    assert str(permission) == text
    assert parse_permission(text) == permission


def test_format_permissions_keeps_order() -> None:
    ps = [Permission(Action.WRITE, ResourceType.USERS), Permission(Action.READ, ResourceType.ORGS)]
    assert [str(p) for p in ps] == ["write:users", "read:orgs"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "read",
        "read:",
        "buckets",
        ":buckets",
        "Read:buckets",
        "READ:buckets",
        "delete:buckets",
        "read:bucket",
        "read: buckets",
        "read:buckets ",
        "read:buckets/abc",
        f"read:buckets/{BUCKET.upper()}",
        "read:buckets/0000000000000000",
        f"read:buckets/{BUCKET}0",
        f"read:orgs/{ORG}/buckets/{BUCKET}/extra",
        f"read:orgs/{ORG}/buckets/{BUCKET}/orgs/{ORG}",
        "read:orgs/not-an-org/buckets",
        f"read:orgs/{ORG}/nothing",
        f"read:buckets/{BUCKET}/{BUCKET}",
        f"read:orgs/{ORG}/buckets//",
    ],
)
def test_parse_rejects_anything_else(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_permission(text, field="permissions[2]")
    err = info.value
    assert err.code is Code.INVALID_ARGUMENT
    assert err.reason == "INVALID_PERMISSION"
    assert err.field == "permissions[2]"
    assert err.metadata == {"field": "permissions[2]"}
    assert err.message.startswith("permissions[2]: ")


def test_parse_error_message_truncates_long_input() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_permission("read:" + "x" * 500)
    assert len(info.value.message) < 200


def test_check_permission_returns_valid_permission_unchanged() -> None:
    p = Permission(Action.READ, ResourceType.BUCKETS, ORG, BUCKET)
    assert check_permission("permission", p) is p
    q = Permission(Action.WRITE, ResourceType.INSTANCE)
    assert check_permission("permission", q) is q


@pytest.mark.parametrize(
    ("org_id", "rid", "bad_field"),
    [
        ("nothex0000000000", "", "permission.resource.org_id"),
        ("0" * 16, "", "permission.resource.org_id"),
        (ORG.upper(), "", "permission.resource.org_id"),
        ("", "abc", "permission.resource.id"),
        ("", BUCKET + "00", "permission.resource.id"),
        (ORG, "0" * 16, "permission.resource.id"),
    ],
)
def test_check_permission_rejects_malformed_ids(org_id: str, rid: str, bad_field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_permission("permission", Permission(Action.READ, ResourceType.BUCKETS, org_id, rid))
    assert info.value.reason == "INVALID_PERMISSION"
    assert info.value.field == bad_field
