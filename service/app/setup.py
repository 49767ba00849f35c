"""First-run setup (SPEC §4): user, org, bucket and an Operator token, atomically."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.errors import FailedPrecondition
from service.domain.models import Authorization, Bucket, Organization, Status, User
from service.domain.presets import operator_permissions
from service.domain.tokens import token_digest, token_hint

from .context import App
from .validate import check_name, check_password


@dataclass(frozen=True)
class SetupResult:
    user: User
    org: Organization
    bucket: Bucket
    authorization: Authorization
    token: str


def allowed(app: App) -> bool:
    return app.store.setup_allowed()


def setup(app: App, username: str, password: str, org: str, bucket: str) -> SetupResult:
    username = check_name("username", username)
    check_password("password", password)
    org = check_name("org", org)
    bucket = check_name("bucket", bucket)
    if not app.store.setup_allowed():  # cheap early answer; re-checked below
        raise _done()
    password_hash = app.hasher.hash(password)
    now = app.clock.now()
    token = app.new_token()
    user = User(app.new_id(), username, Status.ACTIVE, True, now, now)
    organization = Organization(app.new_id(), org, "", now, now)
    first_bucket = Bucket(app.new_id(), organization.id, org, bucket, "", now, now)
    auth = Authorization(
        id=app.new_id(),
        org_id=organization.id,
        org_name=org,
        user_id=user.id,
        user_name=username,
        description=f"{username}'s Token",
        status=Status.ACTIVE,
        permissions=tuple(operator_permissions()),
        token_hint=token_hint(token),
        create_time=now,
        update_time=now,
    )
    with app.write():
        if not app.store.setup_allowed():
            raise _done()
        app.store.create_user(user, password_hash)
        app.store.create_org(organization)
        app.store.create_bucket(first_bucket)
        app.store.create_authorization(auth, token_digest(token), instance_writer=True)
    return SetupResult(user, organization, first_bucket, auth, token)


def _done() -> FailedPrecondition:
    return FailedPrecondition(
        "setup has already been done; sign in or use an existing token",
        reason="SETUP_ALREADY_DONE",
    )
