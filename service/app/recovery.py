"""Recovery (SPEC §7): use cases that work on the store directly, with no caller.

They are for the person who runs the instance and has lost every usable token:
list what is there, mint an Operator token, fix a user's password or status,
add an organization. Every write goes through `store.write()`, which bumps the
revision, so a server running on the same database sees the change at its next
poll (and a freshly minted token at its first use, since it was never cached).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from argon2 import PasswordHasher

from service.domain.errors import InvalidArgument, NotFound
from service.domain.ids import new_id
from service.domain.models import Authorization, Organization, Status, User
from service.domain.presets import operator_permissions
from service.domain.tokens import TokenKind, new_token, token_digest, token_hint
from service.store.database import Page, Store

from .clock import Clock, SystemClock
from .validate import check_description, check_name, check_password

T = TypeVar("T")
_CHUNK = 500


@dataclass
class Recovery:
    """What the recovery use cases are handed: no access index, no caller."""

    store: Store
    clock: Clock = field(default_factory=SystemClock)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    def new_id(self) -> str:
        return new_id(secrets.token_bytes)


def _all(fetch: Callable[[Page], list[T]], key: Callable[[T], str]) -> Iterator[T]:
    after = ""
    while True:
        batch = fetch(Page(after, _CHUNK))
        yield from batch
        if len(batch) < _CHUNK:
            return
        after = key(batch[-1])


def list_authorizations(rec: Recovery) -> list[Authorization]:
    return list(_all(lambda page: rec.store.list_authorizations(page), lambda a: a.id))


def list_users(rec: Recovery) -> list[User]:
    return list(_all(lambda page: rec.store.list_users(page), lambda u: u.id))


def list_orgs(rec: Recovery) -> list[Organization]:
    return list(_all(lambda page: rec.store.list_orgs(page), lambda o: o.id))


def _org_named(rec: Recovery, name: str) -> Organization:
    org = rec.store.get_org_by_name(name)
    if org is None:
        raise NotFound(
            f"organization {name[:256]!r} not found",
            reason="ORGANIZATION_NOT_FOUND",
            metadata={"name": name[:256]},
        )
    return org


def _user_named(rec: Recovery, name: str) -> User:
    user = rec.store.get_user_by_name(name)
    if user is None:
        raise NotFound(
            f"user {name[:256]!r} not found",
            reason="USER_NOT_FOUND",
            metadata={"name": name[:256]},
        )
    return user


def create_operator(
    rec: Recovery, org: str, username: str, description: str = ""
) -> tuple[Authorization, str]:
    """Mint an Operator token owned by `username` in `org`; the token is returned
    this once and only its digest is stored."""
    description = check_description("description", description or f"{username}'s recovery Token")
    with rec.store.write():
        found_org = _org_named(rec, org)
        owner = _user_named(rec, username)
        if owner.status is not Status.ACTIVE:
            # Its token would be refused (USER_INACTIVE): say so instead.
            raise InvalidArgument(
                "username", f"user {username!r} is inactive, so its tokens would be refused"
            )
        token = new_token(TokenKind.API, secrets.randbelow)
        now = rec.clock.now()
        auth = Authorization(
            id=rec.new_id(),
            org_id=found_org.id,
            org_name=found_org.name,
            user_id=owner.id,
            user_name=owner.name,
            description=description,
            status=Status.ACTIVE,
            permissions=tuple(operator_permissions()),
            token_hint=token_hint(token),
            create_time=now,
            update_time=now,
        )
        rec.store.create_authorization(auth, token_digest(token), instance_writer=True)
    return auth, token


def create_user(rec: Recovery, username: str, password: str | None) -> User:
    check_name("username", username)
    password_hash = None
    if password is not None:
        password_hash = rec.hasher.hash(check_password("password", password))
    now = rec.clock.now()
    user = User(rec.new_id(), username, Status.ACTIVE, password_hash is not None, now, now)
    with rec.store.write():
        return rec.store.create_user(user, password_hash)


def update_user(
    rec: Recovery, username: str, password: str | None, status: Status | None
) -> User:
    """Set a user's password and/or status (e.g. reactivate the instance owner)."""
    if password is None and status is None:
        raise InvalidArgument("update", "nothing to update: give a password or a status")
    password_hash = None
    if password is not None:
        password_hash = rec.hasher.hash(check_password("password", password))
    with rec.store.write():
        user = _user_named(rec, username)
        now = rec.clock.now()
        if password_hash is not None:
            rec.store.set_password_hash(user.id, password_hash, now)
            user = dataclasses.replace(user, has_password=True)
        user = dataclasses.replace(user, update_time=now)
        if status is not None:
            user = dataclasses.replace(user, status=status)
        rec.store.update_user(user)
    return user


def create_org(rec: Recovery, name: str, description: str = "") -> Organization:
    check_name("name", name)
    check_description("description", description)
    now = rec.clock.now()
    org = Organization(rec.new_id(), name, description, now, now)
    with rec.store.write():
        return rec.store.create_org(org)
