"""JSON <-> domain, in InfluxDB 2.x's shapes (camelCase, lowercase statuses,
RFC 3339 times). Reading a request checks every type and names the JSON field
in INVALID_ARGUMENT; nothing here decides who may do what."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.domain.errors import InvalidArgument
from service.domain.models import Authorization, Bucket, Organization, RetentionRule, Status, User
from service.domain.permissions import Action, Permission, ResourceType
from service.domain.presets import all_access_permissions, operator_permissions

Json = dict[str, Any]

STATUS_TEXT = {Status.ACTIVE: "active", Status.INACTIVE: "inactive"}
STATUS_OF = {v: k for k, v in STATUS_TEXT.items()}
ACTIONS = {"read": Action.READ, "write": Action.WRITE}


def rfc3339(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- reading a request ---------------------------------------------------------


def obj(value: Any, field: str = "body") -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(field, "must be a JSON object")
    return value


def string(body: Mapping[str, Any], key: str, field: str | None = None) -> str:
    """The string at key ("" when absent or null)."""
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(field or key, "must be a string")
    return value


def required(body: Mapping[str, Any], key: str) -> str:
    value = string(body, key)
    if not value:
        raise InvalidArgument(key, "is required")
    return value


def status(body: Mapping[str, Any], key: str = "status") -> Status | None:
    text = string(body, key)
    if not text:
        return None
    try:
        return STATUS_OF[text]
    except KeyError:
        raise InvalidArgument(key, 'must be "active" or "inactive"') from None


def time_value(body: Mapping[str, Any], key: str) -> datetime | None:
    text = string(body, key)
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(key, "must be an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise InvalidArgument(key, "must be an RFC 3339 time with a zone (Z or +hh:mm)")
    return dt.astimezone(UTC)


def permission(value: Any, field: str) -> Permission:
    p = obj(value, field)
    action_text = p.get("action")
    action = ACTIONS.get(action_text) if isinstance(action_text, str) else None
    if action is None:
        raise InvalidArgument(f"{field}.action", 'must be "read" or "write"',
                              reason="INVALID_PERMISSION")
    resource = obj(p.get("resource"), f"{field}.resource")
    type_text = resource.get("type")
    try:
        if not isinstance(type_text, str):
            raise ValueError
        rtype = ResourceType.from_spelling(type_text)
    except ValueError:
        raise InvalidArgument(f"{field}.resource.type", "is not a known resource type",
                              reason="INVALID_PERMISSION") from None
    org_id = string(resource, "orgID", f"{field}.resource.orgID")
    rid = string(resource, "id", f"{field}.resource.id")
    return Permission(action, rtype, org_id, rid)


def permissions(body: Mapping[str, Any], key: str = "permissions") -> list[Permission]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(key, "must be a list")
    return [permission(p, f"{key}[{i}]") for i, p in enumerate(value)]


def retention_rules(body: Mapping[str, Any]) -> list[RetentionRule]:
    """Checked and normalised; stored with the bucket and returned as given
    (README: authzd does not act on them)."""
    value = body.get("retentionRules")
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument("retentionRules", "must be a list")
    out = []
    for i, rule in enumerate(value):
        r = obj(rule, f"retentionRules[{i}]")
        every = r.get("everySeconds", 0)
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise InvalidArgument(f"retentionRules[{i}].everySeconds",
                                  "must be a non-negative integer")
        rule_type = string(r, "type", f"retentionRules[{i}].type") or "expire"
        out.append(RetentionRule(rule_type, every))
    return out


# -- writing a response ----------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def permission_json(p: Permission) -> Json:
    """(Cached: the same permissions recur on every token; callers only serialise it.)"""
    resource: Json = {"type": p.type.spelling}
    if p.id:
        resource["id"] = p.id
    if p.org_id:
        resource["orgID"] = p.org_id
    return {"action": p.action.spelling, "resource": resource}


_OPERATOR = tuple(operator_permissions())
_ALL_ACCESS_LEN = len(all_access_permissions("1" * 16, "2" * 16))


def kind(a: Authorization) -> str:
    """operator / all-access / custom, by the permissions the token holds (the
    lengths first: most tokens are neither, and the presets are long)."""
    held = a.permissions
    if len(held) == len(_OPERATOR) and tuple(held) == _OPERATOR:
        return "operator"
    if len(held) == _ALL_ACCESS_LEN and list(held) == all_access_permissions(a.org_id, a.user_id):
        return "all-access"
    return "custom"


def authorization_json(a: Authorization, token: str | None = None) -> Json:
    out: Json = {
        "id": a.id,
        "status": STATUS_TEXT[a.status],
        "description": a.description,
        "orgID": a.org_id,
        "org": a.org_name,
        "userID": a.user_id,
        "user": a.user_name,
        "permissions": [permission_json(p) for p in a.permissions],
        "createdAt": rfc3339(a.create_time),
        "updatedAt": rfc3339(a.update_time),
        # authzd's own, read-only
        "kind": kind(a),
        "tokenHint": a.token_hint,
        "expiresAt": rfc3339(a.expire_time),
        "lastUsedAt": rfc3339(a.last_used_time),
        "links": {"self": f"/api/v2/authorizations/{a.id}", "user": f"/api/v2/users/{a.user_id}"},
    }
    if token is not None:
        out["token"] = token
    return out


def user_json(u: User) -> Json:
    return {
        "id": u.id,
        "name": u.name,
        "status": STATUS_TEXT[u.status],
        "createdAt": rfc3339(u.create_time),
        "updatedAt": rfc3339(u.update_time),
        "links": {"self": f"/api/v2/users/{u.id}"},
    }


def org_json(o: Organization) -> Json:
    return {
        "id": o.id,
        "name": o.name,
        "description": o.description,
        "status": "active",
        "createdAt": rfc3339(o.create_time),
        "updatedAt": rfc3339(o.update_time),
        "links": {
            "self": f"/api/v2/orgs/{o.id}",
            "buckets": f"/api/v2/buckets?orgID={o.id}",
        },
    }


def bucket_json(b: Bucket) -> Json:
    return {
        "id": b.id,
        "type": "user",
        "name": b.name,
        "description": b.description,
        "orgID": b.org_id,
        "org": b.org_name,
        "retentionRules": [
            {"type": r.type, "everySeconds": r.every_seconds} for r in b.retention_rules
        ],
        "labels": [],
        "createdAt": rfc3339(b.create_time),
        "updatedAt": rfc3339(b.update_time),
        "links": {"self": f"/api/v2/buckets/{b.id}", "org": f"/api/v2/orgs/{b.org_id}"},
    }
