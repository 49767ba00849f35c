"""User use cases (SPEC §4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from argon2.exceptions import Argon2Error

from service.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from service.domain.ids import check_id
from service.domain.models import Status, User
from service.domain.permissions import Action, Permission, ResourceType

from .caller import Caller
from .context import App
from .guards import ensure_instance_kept
from .resolve import user_not_found
from .validate import check_name, check_password, collect_page, page_request, update_paths

USERS = ResourceType.USERS


def _user_perm(action: Action, user_id: str = "") -> Permission:
    return Permission(action, USERS, id=user_id)


def _status(field: str, status: int, default: Status | None = None) -> Status:
    if status == 0 and default is not None:
        return default
    try:
        return Status(status)
    except ValueError:
        raise InvalidArgument(field, f"unknown status {status}") from None


def create(app: App, caller: Caller, name: str, password: str, status: int) -> User:
    caller.require(_user_perm(Action.WRITE))
    check_name("name", name)
    user_status = _status("status", status, Status.ACTIVE)
    password_hash = app.hasher.hash(check_password("password", password)) if password else None
    now = app.clock.now()
    user = User(app.new_id(), name, user_status, password_hash is not None, now, now)
    with app.write():
        return app.store.create_user(user, password_hash)


def _visible(app: App, caller: Caller, user_id: str, action: Action) -> User:
    check_id("id", user_id)
    user = app.store.get_user(user_id)
    if user is None or not caller.holds(_user_perm(Action.READ, user_id)):
        raise user_not_found(user_id)
    if action is Action.WRITE:
        caller.require(_user_perm(Action.WRITE, user_id))
    return user


def get(app: App, caller: Caller, user_id: str) -> User:
    return _visible(app, caller, user_id, Action.READ)


def list_(
    app: App, caller: Caller, page_size: int, page_token: str, name: str = ""
) -> tuple[list[User], str]:
    return collect_page(
        page_request("users", page_size, page_token),
        lambda page: app.store.list_users(page, name),
        lambda user: caller.holds(_user_perm(Action.READ, user.id)),
        lambda user: user.id,
    )


def update(
    app: App, caller: Caller, user_id: str, paths: Sequence[str], name: str, status: int
) -> User:
    check_id("user.id", user_id)  # name the request's field, not GetUser's "id"
    chosen = update_paths(paths, name=bool(name), status=bool(status))
    new_name = check_name("user.name", name) if "name" in chosen else None
    new_status = _status("user.status", status) if "status" in chosen else None
    with app.write():
        user = _visible(app, caller, user_id, Action.WRITE)
        if new_name is not None:
            user = dataclasses.replace(user, name=new_name)
        if new_status is not None:
            if new_status is Status.INACTIVE:
                ensure_instance_kept(app, lambda w: w[1] == user_id)
            user = dataclasses.replace(user, status=new_status)
        return app.store.update_user(dataclasses.replace(user, update_time=app.clock.now()))


def delete(app: App, caller: Caller, user_id: str) -> None:
    with app.write():
        _visible(app, caller, user_id, Action.WRITE)
        ensure_instance_kept(app, lambda w: w[1] == user_id)
        app.store.delete_user(user_id)


def set_password(
    app: App, caller: Caller, user_id: str, old_password: str, new_password: str
) -> None:
    """The user itself must give its old password; anyone else needs write:users/<id>."""
    check_id("id", user_id)
    check_password("new_password", new_password)
    if caller.user_id == user_id:
        current = app.store.password_hash(user_id)
        if current is not None and not verify(app, current, old_password):
            raise FailedPrecondition("the old password is wrong", reason="WRONG_PASSWORD")
    else:
        _visible(app, caller, user_id, Action.READ)
        if not caller.holds(_user_perm(Action.WRITE, user_id)):
            raise PermissionDenied(str(_user_perm(Action.WRITE, user_id)))
    new_hash = app.hasher.hash(new_password)
    with app.write():
        if app.store.get_user(user_id) is None:
            raise user_not_found(user_id)
        app.store.set_password_hash(user_id, new_hash, app.clock.now())


def verify(app: App, password_hash: str, password: str) -> bool:
    try:
        return app.hasher.verify(password_hash, password)
    except Argon2Error:
        return False
