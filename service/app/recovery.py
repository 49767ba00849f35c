"""Recovery (SPEC §7): use cases that work on the store directly, with no caller.

They are for the person who runs the instance and has lost every usable token:
list what is there, mint an Operator token, fix a user's password or status,
add an organization. Every write goes through `store.write()`, which bumps the
revision, so a server running on the same database sees the change at its next
poll (and a freshly minted token at its first use, since it was never cached).

Every command, reads included, records one audit event (action
"recovery.<command>"): it bypasses every permission, so who used it and on what
is exactly what the audit trail is for. The command line binds request id
"recovery", peer "local" and the OS user.
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

from .audit import Auditor, Target
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
    audit: Auditor = field(default_factory=Auditor)  # records nothing unless given a sink

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
    with rec.audit.attempt("recovery.list_authorizations", Target("authorization")) as ev:
        found = list(_all(lambda page: rec.store.list_authorizations(page), lambda a: a.id))
        ev.fields["count"] = len(found)
    return found


def list_users(rec: Recovery) -> list[User]:
    with rec.audit.attempt("recovery.list_users", Target("user")) as ev:
        found = list(_all(lambda page: rec.store.list_users(page), lambda u: u.id))
        ev.fields["count"] = len(found)
    return found


def list_orgs(rec: Recovery) -> list[Organization]:
    with rec.audit.attempt("recovery.list_organizations", Target("organization")) as ev:
        found = list(_all(lambda page: rec.store.list_orgs(page), lambda o: o.id))
        ev.fields["count"] = len(found)
    return found


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
    with rec.audit.attempt("recovery.create_operator", Target("authorization")) as ev:
        ev.fields.update(org=org, user=username)
        description = check_description(
            "description", description or f"{username}'s recovery Token"
        )
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
        ev.target = Target("authorization", auth.id)
        ev.fields.update(org_id=auth.org_id, user_id=auth.user_id, preset="OPERATOR")
    return auth, token


def create_user(rec: Recovery, username: str, password: str | None) -> User:
    with rec.audit.attempt("recovery.create_user", Target("user", name=username)) as ev:
        username = check_name("username", username)
        password_hash = None
        if password is not None:
            password_hash = rec.hasher.hash(check_password("password", password))
        now = rec.clock.now()
        user = User(rec.new_id(), username, Status.ACTIVE, password_hash is not None, now, now)
        with rec.store.write():
            rec.store.create_user(user, password_hash)
        ev.target = Target("user", user.id, user.name)
    return user


def update_user(
    rec: Recovery, username: str, password: str | None, status: Status | None
) -> User:
    """Set a user's password and/or status (e.g. reactivate the instance owner)."""
    with rec.audit.attempt("recovery.update_user", Target("user", name=username)) as ev:
        # What changed, never the password itself.
        ev.fields["update_mask"] = [f for f, v in (("password", password), ("status", status))
                                    if v is not None]
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
            if password_hash is not None or status is Status.INACTIVE:
                # SPEC §4: a password change or a deactivation ends every session.
                rec.store.delete_sessions_of(user.id)
            user = dataclasses.replace(user, update_time=now)
            if status is not None:
                user = dataclasses.replace(user, status=status)
            rec.store.update_user(user)
        ev.target = Target("user", user.id, user.name)
        ev.fields["status"] = user.status.name
    return user


def create_org(rec: Recovery, name: str, description: str = "") -> Organization:
    with rec.audit.attempt("recovery.create_organization", Target("organization", name=name)) as ev:
        name = check_name("name", name)
        check_description("description", description)
        now = rec.clock.now()
        org = Organization(rec.new_id(), name, description, now, now)
        with rec.store.write():
            rec.store.create_org(org)
        ev.target = Target("organization", org.id, org.name)
    return org
