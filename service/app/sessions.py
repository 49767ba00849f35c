"""Password sign-in (SPEC §2, §4, §6).

Every failure is the same UNAUTHENTICATED, and an unknown user costs a hash
verification too, so neither the answer nor its timing tells whether the
account exists. After THROTTLE_AFTER consecutive failures an account is
throttled with exponential back-off (capped); a success resets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.domain.errors import Unauthenticated
from service.domain.models import Session, Status, User
from service.domain.tokens import TokenKind, token_digest
from service.store.database import to_micros

from .caller import Caller
from .context import App
from .users import verify

THROTTLE_AFTER = 10
THROTTLE_MAX_SECONDS = 300


@dataclass(frozen=True)
class SignInResult:
    token: str
    session: Session
    user: User


def _backoff_micros(failures: int) -> int:
    """How long an account with this many consecutive failures is throttled."""
    if failures < THROTTLE_AFTER:
        return 0
    exponent = min(failures - THROTTLE_AFTER, 16)  # no huge powers past the cap
    return min(2**exponent, THROTTLE_MAX_SECONDS) * 1_000_000


def sign_in(app: App, username: str, password: str) -> SignInResult:
    user = app.store.get_user_by_name(username) if username else None
    password_hash = app.store.password_hash(user.id) if user else None
    if user is None or password_hash is None:
        app.hasher.spend_like_verify(password)
        raise Unauthenticated()
    _, throttled_until = app.store.signin_state(user.id)
    now = app.clock.now()
    if throttled_until > to_micros(now):
        raise Unauthenticated()
    if not verify(app, password_hash, password) or user.status is not Status.ACTIVE:
        app.store.record_signin_failure(user.id, to_micros(now), _backoff_micros)
        raise Unauthenticated()
    token = app.new_token(TokenKind.SESSION)
    ttl = timedelta(minutes=app.settings.session_ttl_minutes)
    session = Session(app.new_id(), user.id, now, now + ttl)
    with app.write():
        app.store.set_signin_state(user.id, 0, 0)
        app.store.create_session(session, token_digest(token))
    return SignInResult(token, session, user)


def sign_out(app: App, caller: Caller) -> None:
    if not caller.is_session:
        raise Unauthenticated()
    with app.write():
        app.store.delete_session(caller.authorization_id)
