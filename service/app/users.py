"""User use cases (SPEC §4)."""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    LimitExceeded,
    PermissionDenied,
    Unauthenticated,
)
from service.domain.ids import check_id
from service.domain.models import Status, User
from service.domain.permissions import Action, Permission, ResourceType

from . import throttle
from .caller import Caller
from .context import App
from .guards import ensure_instance_kept
from .resolve import user_not_found
from .validate import (
    check_name,
    check_password,
    collect_page,
    page_request,
    update_paths,
    updated,
)

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
    name = check_name("name", name)
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


def me(app: App, caller: Caller) -> User:
    """The caller's own user: always readable by the caller, no permission asked
    (as InfluxDB's `/me`); gone meanwhile reads as an unusable credential."""
    user = app.store.get_user(caller.user_id)
    if user is None:
        raise Unauthenticated()
    return user


def list_(
    app: App, caller: Caller, page_size: int, page_token: str, name: str = ""
) -> tuple[list[User], str]:
    return collect_page(
        page_request("users", page_size, page_token),
        lambda page: app.store.list_users(page, name),
        lambda user: caller.holds(_user_perm(Action.READ, user.id)),
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
        if new_status is Status.INACTIVE:
            ensure_instance_kept(app, lambda w: w.user_id == user_id)
            # Reactivation must not bring old sessions back: end them now.
            app.store.delete_sessions_of(user_id)
        return app.store.update_user(
            updated(user, chosen, app.clock.now(), name=new_name, status=new_status))


def delete(app: App, caller: Caller, user_id: str) -> None:
    with app.write():
        _visible(app, caller, user_id, Action.WRITE)
        ensure_instance_kept(app, lambda w: w.user_id == user_id)
        app.store.delete_user(user_id)


def set_password(
    app: App, caller: Caller, user_id: str, old_password: str, new_password: str
) -> None:
    """SPEC §4. The self route: the user's own token or session with its old
    password, always (also when the caller holds write:users/<own id>: a stolen
    token must not lock the owner out). Old-password checks count toward the
    sign-in throttle and are refused while it holds. A user with no password has
    no self route. Everyone else resets: write:users/<id>, and, since a password
    lets its holder sign in with the union of all the user's tokens, the caller
    must cover every permission of those tokens (granting is coverage). A change
    ends every session of the user but the caller's own."""
    check_id("id", user_id)
    check_password("new_password", new_password)
    current = app.store.password_hash(user_id) if caller.user_id == user_id else None
    if current is not None:
        if throttle.account_throttled(app, user_id):
            raise LimitExceeded(
                "too many wrong passwords for this account; try again later",
                metadata={"limit": "password_attempts"},
            )
        if not old_password:
            raise FailedPrecondition(
                "the old password is wrong: none was given", reason="WRONG_PASSWORD"
            )
        if not throttle.verify(app, current, old_password):
            throttle.record_account_failure(app, user_id)
            raise FailedPrecondition("the old password is wrong", reason="WRONG_PASSWORD")
    else:
        _visible(app, caller, user_id, Action.WRITE)
        if caller.first_uncovered(app.store.user_token_permissions(user_id)) is not None:
            raise PermissionDenied(
                "",
                message=(
                    "permission denied: resetting this user's password needs every "
                    "permission of the user's tokens (a password signs in with all of them)"
                ),
            )
    new_hash = app.hasher.hash(new_password)
    with app.write():
        if app.store.get_user(user_id) is None:
            raise user_not_found(user_id)
        app.store.set_password_hash(user_id, new_hash, app.clock.now())
        if current is not None:
            throttle.clear_account(app, user_id)
        own_session = caller.authorization_id if caller.is_session else ""
        app.store.delete_sessions_of(user_id, except_session_id=own_session)
