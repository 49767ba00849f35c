"""Password sign-in (SPEC §2, §4, §6).

Every failure is the same UNAUTHENTICATED, and an unknown user costs a hash
verification too, so neither the answer nor its timing tells whether the
account exists. Failures are throttled per account, and per name for names
with no account (service/app/throttle.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.domain.errors import Unauthenticated
from service.domain.models import Session, Status, User
from service.domain.tokens import TokenKind, token_digest

from . import throttle
from .caller import Caller
from .context import App


@dataclass(frozen=True)
class SignInResult:
    token: str
    session: Session
    user: User


def sign_in(app: App, username: str, password: str) -> SignInResult:
    user = app.store.get_user_by_name(username) if username else None
    password_hash = app.store.password_hash(user.id) if user else None
    if user is None or password_hash is None:
        # No account to sign in to: throttled like one, and costing a hash
        # verification until then, so neither answer nor timing tells.
        if throttle.name_throttled(app, username):
            raise Unauthenticated()
        app.hasher.spend_like_verify(password)
        throttle.record_name_failure(app, username)
        raise Unauthenticated()
    if throttle.account_throttled(app, user.id):
        raise Unauthenticated()
    if not throttle.verify(app, password_hash, password) or user.status is not Status.ACTIVE:
        throttle.record_account_failure(app, user.id)
        raise Unauthenticated()
    token = app.new_token(TokenKind.SESSION)
    now = app.clock.now()
    ttl = timedelta(minutes=app.settings.session_ttl_minutes)
    session = Session(app.new_id(), user.id, now, now + ttl)
    with app.write():
        throttle.clear_account(app, user.id)
        app.store.create_session(session, token_digest(token))
    return SignInResult(token, session, user)


def sign_out(app: App, caller: Caller) -> None:
    if not caller.is_session:
        raise Unauthenticated()
    with app.write():
        app.store.delete_session(caller.authorization_id)
