"""Which admin RPCs the audit trail records, under what action name, and how
their target is read from the request (and, on success, the response).

Writes (create/update/delete, passwords, setup, sign-in/out) are recorded
whatever their outcome; reads only when the caller is denied (UNAUTHENTICATED,
PERMISSION_DENIED). An RPC missing here (GetSetupStatus) is never recorded, and
AccessService is not wrapped at all: CheckAccess is not an admin call.

Every value is picked field by field; none of these functions may hand on a
password, a token or a whole message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authzd.v1 import types_pb2

from service.app.audit import Target
from service.app.caller import Caller
from service.domain.permissions import format_permission

from .convert import permission_from_proto

Fields = dict[str, Any]
# (request, response or None when the call failed, caller or None) -> target, fields
Extract = Callable[[Any, Any, "Caller | None"], tuple[Target, Fields]]


@dataclass(frozen=True)
class Audited:
    action: str
    write: bool  # recorded on every outcome; else only when denied
    extract: Extract


def _set(**values: Any) -> Fields:
    """The non-empty values: an event names what the request named."""
    return {k: v for k, v in values.items() if v}


def _status(value: int) -> str:
    try:
        return types_pb2.Status.Name(value).removeprefix("STATUS_")  # type: ignore[arg-type]
    except ValueError:
        return str(value)


def _mask(update_mask: Any) -> Fields:
    return _set(update_mask=list(update_mask.paths))


def _permissions(auth: Any) -> list[str]:
    out = []
    for i, p in enumerate(auth.permissions):
        try:
            out.append(format_permission(permission_from_proto(f"permissions[{i}]", p)))
        except Exception:  # noqa: BLE001 (an event is better with a gap than lost)
            out.append("?")
    return out


def _by_id(type_: str) -> Extract:
    return lambda req, resp, caller: (Target(type_, req.id), {})


def _listed(type_: str) -> Extract:
    return lambda req, resp, caller: (Target(type_), {})


# -- authorizations ----------------------------------------------------------


def _auth_create(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    if resp is None:
        return Target("authorization"), _set(
            org_id=req.org_id, org=req.org, user_id=req.user_id, user=req.user
        )
    a = resp.authorization
    return Target("authorization", a.id), _set(
        org_id=a.org_id, org=a.org, user_id=a.user_id, user=a.user,
        permissions=_permissions(a),
    )


def _auth_update(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    fields = _mask(req.update_mask)
    if resp is not None:
        fields["status"] = _status(resp.authorization.status)
    return Target("authorization", req.authorization.id), fields


# -- users, organizations, buckets -------------------------------------------


def _user_create(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    if resp is None:
        return Target("user", name=req.name), {}
    return Target("user", resp.user.id, resp.user.name), {"status": _status(resp.user.status)}


def _user_update(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    fields = _mask(req.update_mask)
    if resp is None:
        return Target("user", req.user.id, req.user.name), fields
    fields["status"] = _status(resp.user.status)
    return Target("user", resp.user.id, resp.user.name), fields


def _org_create(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    if resp is None:
        return Target("organization", name=req.name), {}
    return Target("organization", resp.organization.id, resp.organization.name), {}


def _org_update(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    o = resp.organization if resp is not None else req.organization
    return Target("organization", req.organization.id, o.name), _mask(req.update_mask)


def _bucket_create(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    if resp is None:
        return Target("bucket", name=req.name), _set(org_id=req.org_id, org=req.org)
    b = resp.bucket
    return Target("bucket", b.id, b.name), _set(org_id=b.org_id, org=b.org)


def _bucket_update(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    b = resp.bucket if resp is not None else req.bucket
    return Target("bucket", req.bucket.id, b.name), _set(
        org_id=b.org_id, **_mask(req.update_mask)
    )


# -- setup and sessions --------------------------------------------------------


def _setup(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    fields = _set(user=req.username, org=req.org, bucket=req.bucket)
    if resp is not None:
        fields.update(user_id=resp.user.id, org_id=resp.organization.id,
                      bucket_id=resp.bucket.id, authorization_id=resp.authorization.id)
    return Target("instance"), fields


def _sign_in(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    # The name as typed, also when no such user exists: failures are what to watch.
    return Target("user", resp.user.id if resp is not None else "", req.username), {}


def _sign_out(req: Any, resp: Any, caller: Caller | None) -> tuple[Target, Fields]:
    if caller is None or not caller.is_session:
        return Target("session"), {}
    return Target("session", caller.authorization_id), {}


AUDITED: dict[str, Audited] = {
    "AuthorizationService/CreateAuthorization": Audited(
        "authorization.create", True, _auth_create),
    "AuthorizationService/GetAuthorization": Audited(
        "authorization.get", False, _by_id("authorization")),
    "AuthorizationService/ListAuthorizations": Audited(
        "authorization.list", False, _listed("authorization")),
    "AuthorizationService/UpdateAuthorization": Audited(
        "authorization.update", True, _auth_update),
    "AuthorizationService/DeleteAuthorization": Audited(
        "authorization.delete", True, _by_id("authorization")),
    "UserService/CreateUser": Audited("user.create", True, _user_create),
    "UserService/GetUser": Audited("user.get", False, _by_id("user")),
    "UserService/ListUsers": Audited("user.list", False, _listed("user")),
    "UserService/UpdateUser": Audited("user.update", True, _user_update),
    "UserService/DeleteUser": Audited("user.delete", True, _by_id("user")),
    "UserService/SetPassword": Audited("user.set_password", True, _by_id("user")),
    "OrganizationService/CreateOrganization": Audited(
        "organization.create", True, _org_create),
    "OrganizationService/GetOrganization": Audited(
        "organization.get", False, _by_id("organization")),
    "OrganizationService/ListOrganizations": Audited(
        "organization.list", False, _listed("organization")),
    "OrganizationService/UpdateOrganization": Audited(
        "organization.update", True, _org_update),
    "OrganizationService/DeleteOrganization": Audited(
        "organization.delete", True, _by_id("organization")),
    "BucketService/CreateBucket": Audited("bucket.create", True, _bucket_create),
    "BucketService/GetBucket": Audited("bucket.get", False, _by_id("bucket")),
    "BucketService/ListBuckets": Audited("bucket.list", False, _listed("bucket")),
    "BucketService/UpdateBucket": Audited("bucket.update", True, _bucket_update),
    "BucketService/DeleteBucket": Audited("bucket.delete", True, _by_id("bucket")),
    "SetupService/Setup": Audited("setup", True, _setup),
    "SessionService/SignIn": Audited("session.sign_in", True, _sign_in),
    "SessionService/SignOut": Audited("session.sign_out", True, _sign_out),
    "ConfigService/GetConfig": Audited("config.get", False, _listed("config")),
}
