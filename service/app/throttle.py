"""Per-account throttling of password guesses (SPEC §4, §6).

Every check of a password against an account counts toward one throttle: a
failed sign-in and a wrong old password given to SetPassword alike. After
THROTTLE_AFTER consecutive failures the account is refused for a back-off that
doubles with each further failure (capped); a success resets it. Names that
have no account (or no password) are throttled the same way, keyed by the
name's digest, so the 11th failure of an unknown name answers like that of a
known one, in code and in time.
"""

from __future__ import annotations

from argon2.exceptions import Argon2Error

from service.domain.tokens import token_digest

from .context import App

THROTTLE_AFTER = 10
THROTTLE_MAX_SECONDS = 300


def backoff_seconds(failures: int) -> float:
    """How long an account with this many consecutive failures is throttled."""
    if failures < THROTTLE_AFTER:
        return 0
    exponent = min(failures - THROTTLE_AFTER, 16)  # no huge powers past the cap
    return float(min(2**exponent, THROTTLE_MAX_SECONDS))


def _now(app: App) -> float:
    return app.clock.now().timestamp()


def account_throttled(app: App, user_id: str) -> bool:
    _, until = app.store.signin_state(user_id)
    return until > _now(app)


def name_throttled(app: App, name: str) -> bool:
    _, until = app.store.name_signin_state(token_digest(name))
    return until > _now(app)


def record_account_failure(app: App, user_id: str) -> None:
    app.store.record_signin_failure(user_id, _now(app), backoff_seconds)


def record_name_failure(app: App, name: str) -> None:
    app.store.record_name_signin_failure(token_digest(name), _now(app), backoff_seconds)


def clear_account(app: App, user_id: str) -> None:
    """After a right password. Call inside a write transaction."""
    app.store.clear_signin_state(user_id)


def verify(app: App, password_hash: str, password: str) -> bool:
    try:
        return app.hasher.verify(password_hash, password)
    except Argon2Error:
        return False
