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

import hashlib

from argon2.exceptions import Argon2Error

from service.store.database import to_micros

from .context import App

THROTTLE_AFTER = 10
THROTTLE_MAX_SECONDS = 300
# Unknown names not seen failing for this long are forgotten by housekeeping.
FORGET_AFTER_SECONDS = 3600


def backoff_micros(failures: int) -> int:
    """How long an account with this many consecutive failures is throttled."""
    if failures < THROTTLE_AFTER:
        return 0
    exponent = min(failures - THROTTLE_AFTER, 16)  # no huge powers past the cap
    return min(2**exponent, THROTTLE_MAX_SECONDS) * 1_000_000


def _now(app: App) -> int:
    return to_micros(app.clock.now())


def name_key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def account_throttled(app: App, user_id: str) -> bool:
    _, until = app.store.signin_state(user_id)
    return until > _now(app)


def name_throttled(app: App, name: str) -> bool:
    _, until = app.store.name_signin_state(name_key(name))
    return until > _now(app)


def record_account_failure(app: App, user_id: str) -> None:
    app.store.record_signin_failure(user_id, _now(app), backoff_micros)


def record_name_failure(app: App, name: str) -> None:
    app.store.record_name_signin_failure(name_key(name), _now(app), backoff_micros)


def clear_account(app: App, user_id: str) -> None:
    """After a right password. Call inside a write transaction."""
    app.store.set_signin_state(user_id, 0, 0)


def verify(app: App, password_hash: str, password: str) -> bool:
    try:
        return app.hasher.verify(password_hash, password)
    except Argon2Error:
        return False
