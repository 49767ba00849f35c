"""Authorization (API token) use cases (SPEC §3, §4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.domain.errors import InvalidArgument, PermissionDenied
from service.domain.ids import check_id
from service.domain.models import Authorization, Organization, Status, User
from service.domain.permissions import (
    Action,
    Permission,
    ResourceType,
    check_permission,
)
from service.domain.presets import (
    PRESET_ALL_ACCESS,
    PRESET_OPERATOR,
    all_access_permissions,
    operator_permissions,
)
from service.domain.tokens import token_digest, token_hint

from .caller import Caller
from .context import App
from .guards import ensure_instance_kept
from .resolve import auth_not_found, org_not_found, org_ref, user_not_found, user_ref
from .validate import (
    check_description,
    collect_page,
    page_request,
    update_paths,
    updated,
)

AUTHS = ResourceType.AUTHORIZATIONS
MAX_PERMISSIONS = 1000


def build(
    auth_id: str,
    org: Organization,
    owner: User,
    permissions: Sequence[Permission],
    token: str,
    now: datetime,
    description: str,
    expire_time: datetime | None = None,
) -> Authorization:
    """A new, active authorization: the one place one is put together (create,
    setup's and recovery's Operator tokens)."""
    return Authorization(
        id=auth_id,
        org_id=org.id,
        org_name=org.name,
        user_id=owner.id,
        user_name=owner.name,
        description=description,
        status=Status.ACTIVE,
        permissions=tuple(permissions),
        token_hint=token_hint(token),
        create_time=now,
        update_time=now,
        expire_time=expire_time,
    )


def operator(
    auth_id: str, org: Organization, owner: User, token: str, now: datetime, description: str
) -> Authorization:
    """An Operator authorization (setup, recovery, the OPERATOR preset)."""
    return build(auth_id, org, owner, operator_permissions(), token, now, description)


def _auth_perm(action: Action, org_id: str, auth_id: str = "") -> Permission:
    return Permission(action, AUTHS, org_id=org_id, id=auth_id)


def _user_perm(action: Action, user_id: str) -> Permission:
    return Permission(action, ResourceType.USERS, id=user_id)


def _check_requested(permissions: Sequence[Permission], preset: int) -> None:
    if preset not in (0, PRESET_OPERATOR, PRESET_ALL_ACCESS):
        raise InvalidArgument("preset", f"unknown preset {preset}")
    if preset and permissions:
        raise InvalidArgument("permissions", "give permissions or a preset, not both")
    if not preset and not permissions:
        raise InvalidArgument("permissions", "at least one permission (or a preset) is required")
    if len(permissions) > MAX_PERMISSIONS:
        raise InvalidArgument("permissions", f"at most {MAX_PERMISSIONS} permissions")
    for i, p in enumerate(permissions):
        check_permission(f"permissions[{i}]", p)


def _check_in_org(app: App, org: Organization, permissions: Sequence[Permission]) -> None:
    for i, p in enumerate(permissions):
        if p.org_id and p.org_id != org.id:
            raise InvalidArgument(
                f"permissions[{i}].resource.org_id",
                f"{p} names organization {p.org_id}, not the token's organization {org.id}",
                reason="INVALID_PERMISSION",
            )
        if p.type == ResourceType.BUCKETS and p.id:
            bucket = app.store.get_bucket(p.id)
            if bucket is None or bucket.org_id != org.id:
                raise InvalidArgument(
                    f"permissions[{i}].resource.id",
                    f"{p.id} is not a bucket of organization {org.id}",
                    reason="BUCKET_NOT_IN_ORG",
                )


def create(
    app: App,
    caller: Caller,
    *,
    org_id: str,
    org: str,
    user_id: str,
    user: str,
    description: str,
    permissions: Sequence[Permission],
    preset: int,
    expire_time: datetime | None,
) -> tuple[Authorization, str]:
    check_description("description", description)
    _check_requested(permissions, preset)
    now = app.clock.now()
    if expire_time is not None and expire_time <= now:
        raise InvalidArgument(
            "expire_time", "must be in the future", reason="INVALID_EXPIRE_TIME"
        )
    found_org = org_ref(app.store, org_id, org, visible=caller.sees_org)
    assert found_org is not None
    owner = user_ref(
        app.store,
        user_id,
        user,
        visible=lambda u: caller.sees_user(u) or caller.holds(_user_perm(Action.WRITE, u)),
    )
    if owner is None:
        owner = app.store.get_user(caller.user_id)
        if owner is None:
            raise user_not_found(caller.user_id)
    caller.require(
        _auth_perm(Action.WRITE, found_org.id), _user_perm(Action.WRITE, owner.id)
    )
    if preset == PRESET_OPERATOR:
        granted = operator_permissions()
    elif preset == PRESET_ALL_ACCESS:
        granted = all_access_permissions(found_org.id, owner.id)
    else:
        granted = list(permissions)
        _check_in_org(app, found_org, granted)
    missing = caller.first_uncovered(granted)
    if missing is not None:
        if preset == PRESET_OPERATOR:
            raise PermissionDenied(
                str(missing),
                message="permission denied: only an Operator token can create an Operator "
                f"token (the caller lacks {missing})",
            )
        raise PermissionDenied(str(missing))
    token = app.new_token()
    auth = build(
        app.new_id(), found_org, owner, granted, token, now, description, expire_time
    )
    with app.write():
        # Re-read inside the transaction: the org or user may be gone by now.
        if app.store.get_org(found_org.id) is None:
            raise org_not_found(found_org.id)
        if app.store.get_user(owner.id) is None:
            raise user_not_found(owner.id)
        auth = app.store.create_authorization(auth, token_digest(token))
    return _shown(app, auth), token


def _can_see(caller: Caller, auth: Authorization, action: Action) -> bool:
    return caller.holds(_auth_perm(action, auth.org_id, auth.id)) and caller.holds(
        _user_perm(action, auth.user_id)
    )


def _visible(app: App, caller: Caller, auth_id: str, action: Action) -> Authorization:
    """The authorization if the caller may see it (else NOT_FOUND, as if missing).
    To manage it (WRITE) the caller also needs the write pair and must cover
    every permission of the target: a token manages only tokens it could have
    created, so it can never revive, deactivate or delete a stronger one."""
    check_id("id", auth_id)
    auth = app.store.get_authorization(auth_id)
    if auth is None or not _can_see(caller, auth, Action.READ):
        raise auth_not_found(auth_id)
    if action is Action.WRITE:
        caller.require(
            _auth_perm(Action.WRITE, auth.org_id, auth.id), _user_perm(Action.WRITE, auth.user_id)
        )
        missing = caller.first_uncovered(auth.permissions)
        if missing is not None:
            raise PermissionDenied(
                str(missing),
                message=f"permission denied: the caller lacks {missing}, which this token "
                "holds; a token can only manage tokens it could have created",
            )
    return auth


def _shown(app: App, auth: Authorization) -> Authorization:
    """As a caller is shown it: with its buckets' names."""
    return app.store.with_bucket_names([auth])[0]


def get(app: App, caller: Caller, auth_id: str) -> Authorization:
    return _shown(app, _visible(app, caller, auth_id, Action.READ))


def list_(
    app: App,
    caller: Caller,
    *,
    user_id: str,
    user: str,
    org_id: str,
    org: str,
    auth_id: str,
    page_size: int,
    page_token: str,
) -> tuple[list[Authorization], str]:
    req = page_request("authorizations", page_size, page_token)
    if auth_id:
        check_id("id", auth_id)
    found_user = user_ref(app.store, user_id, user, visible=caller.sees_user)
    found_org = org_ref(app.store, org_id, org, required=False, visible=caller.sees_org)
    items, next_token = collect_page(
        req,
        lambda page: app.store.list_authorizations(
            page,
            user_id=found_user.id if found_user else "",
            org_id=found_org.id if found_org else "",
            auth_id=auth_id,
        ),
        lambda a: _can_see(caller, a, Action.READ),
    )
    return app.store.with_bucket_names(items), next_token


def update(
    app: App,
    caller: Caller,
    auth_id: str,
    paths: Sequence[str],
    status: int,
    description: str,
) -> Authorization:
    check_id("authorization.id", auth_id)  # the request's field, not GetAuthorization's
    chosen = update_paths(paths, status=bool(status), description=bool(description))
    new_status = None
    if "status" in chosen:
        try:
            new_status = Status(status)
        except ValueError:
            raise InvalidArgument(
                "authorization.status", "must be STATUS_ACTIVE or STATUS_INACTIVE"
            ) from None
    if "description" in chosen:
        check_description("authorization.description", description)
    with app.write():
        auth = _visible(app, caller, auth_id, Action.WRITE)
        if new_status is Status.INACTIVE:
            ensure_instance_kept(app, lambda w: w.authorization_id == auth_id)
        return _shown(app, app.store.update_authorization(
            updated(auth, chosen, app.clock.now(), status=new_status, description=description)))


def delete(app: App, caller: Caller, auth_id: str) -> None:
    with app.write():
        _visible(app, caller, auth_id, Action.WRITE)
        ensure_instance_kept(app, lambda w: w.authorization_id == auth_id)
        app.store.delete_authorization(auth_id)
