"""proto <-> domain conversions. Enum numbers are validated here: an unknown or
UNSPECIFIED value in a request is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authzd.v1 import types_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from service.domain.errors import InvalidArgument
from service.domain.models import Authorization, Bucket, Organization, User
from service.domain.permissions import Action, Permission, ResourceType

_ACTIONS = {a.value: a for a in Action}
_TYPES = {t.value: t for t in ResourceType}


def permission_from_proto(field: str, msg: types_pb2.Permission) -> Permission:
    action = _ACTIONS.get(msg.action)
    if action is None:
        raise InvalidArgument(
            f"{field}.action",
            "must be ACTION_READ or ACTION_WRITE",
            reason="INVALID_PERMISSION",
        )
    rtype = _TYPES.get(msg.resource.type)
    if rtype is None:
        raise InvalidArgument(
            f"{field}.resource.type",
            "must be one of the 23 resource types (not UNSPECIFIED)",
            reason="INVALID_PERMISSION",
        )
    return Permission(action, rtype, msg.resource.org_id, msg.resource.id)


def permission_to_proto(
    p: Permission, out: types_pb2.Permission | None = None
) -> types_pb2.Permission:
    msg = out if out is not None else types_pb2.Permission()
    msg.action = p.action.value  # type: ignore[assignment]
    msg.resource.type = p.type.value  # type: ignore[assignment]
    msg.resource.org_id = p.org_id
    msg.resource.id = p.id
    return msg


def timestamp(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def from_timestamp(ts: Timestamp, field: str = "expire_time") -> datetime:
    """A request timestamp. Out of protobuf's range (years 1-9999, nanos 0-999999999)
    is the caller's mistake: INVALID_ARGUMENT naming the field, not INTERNAL.
    (Its one caller today is CreateAuthorization.expire_time, hence the reason.)"""
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(
            field,
            "is not a valid timestamp (years 1 to 9999, nanos 0 to 999999999)",
            reason="INVALID_EXPIRE_TIME",
        ) from None


def _times(record: Any) -> dict[str, Any]:
    return {"create_time": timestamp(record.create_time),
            "update_time": timestamp(record.update_time)}


def authorization_to_proto(a: Authorization) -> types_pb2.Authorization:
    msg = types_pb2.Authorization(
        id=a.id,
        org_id=a.org_id,
        org=a.org_name,
        user_id=a.user_id,
        user=a.user_name,
        description=a.description,
        status=a.status.value,  # type: ignore[arg-type]
        token_hint=a.token_hint,
        **_times(a),
    )
    for p in a.permissions:
        out = permission_to_proto(p, msg.permissions.add())
        out.resource.name, out.resource.org = a.resource_names(p)
    if a.expire_time is not None:
        msg.expire_time.CopyFrom(timestamp(a.expire_time))
    if a.last_used_time is not None:
        msg.last_used_time.CopyFrom(timestamp(a.last_used_time))
    return msg


def user_to_proto(u: User) -> types_pb2.User:
    return types_pb2.User(
        id=u.id,
        name=u.name,
        status=u.status.value,  # type: ignore[arg-type]
        has_password=u.has_password,
        **_times(u),
    )


def org_to_proto(o: Organization) -> types_pb2.Organization:
    return types_pb2.Organization(
        id=o.id,
        name=o.name,
        description=o.description,
        **_times(o),
    )


def bucket_to_proto(b: Bucket) -> types_pb2.Bucket:
    return types_pb2.Bucket(
        id=b.id,
        org_id=b.org_id,
        org=b.org_name,
        name=b.name,
        description=b.description,
        **_times(b),
    )
