"""User queries, passwords and the sign-in throttle's counters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from peewee import Model

from service.domain.models import Status, User

from .codec import Page, row_times, seconds, seconds_to_micros, time_columns, to_micros
from .engine import Engine, unique_name, unstorable
from .models import AuthorizationRow, SessionRow, SigninThrottleRow, UserRow


def _user(row: UserRow) -> User:
    return User(
        row.id,
        row.name,
        Status(row.status),
        row.password_hash is not None,
        *row_times(row),
    )


def user_row(user: User, password_hash: str | None) -> dict[str, Any]:
    return dict(
        id=user.id,
        name=user.name,
        status=int(user.status),
        password_hash=password_hash,
        **time_columns(user),
    )


class UserQueries(Engine):
    def create_user(self, user: User, password_hash: str | None) -> User:
        with unique_name("user", user.name):
            UserRow.create(**user_row(user, password_hash))
        return user

    def get_user(self, user_id: str) -> User | None:
        row = UserRow.get_or_none(UserRow.id == user_id)
        return _user(row) if row else None

    def get_user_by_name(self, name: str) -> User | None:
        if unstorable(name):
            return None
        row = UserRow.get_or_none(UserRow.name == name)
        return _user(row) if row else None

    def list_users(self, page: Page, name: str = "") -> list[User]:
        if unstorable(name):
            return []
        q = UserRow.select().where(UserRow.id > page.after)
        if name:
            q = q.where(UserRow.name == name)
        return [_user(r) for r in q.order_by(UserRow.id).limit(page.limit)]

    def update_user(self, user: User) -> User:
        with unique_name("user", user.name):
            UserRow.update(
                name=user.name,
                status=int(user.status),
                update_time=to_micros(user.update_time),
            ).where(UserRow.id == user.id).execute()
        return user

    def delete_user(self, user_id: str) -> None:
        SessionRow.delete().where(SessionRow.user == user_id).execute()
        AuthorizationRow.delete().where(AuthorizationRow.user == user_id).execute()
        UserRow.delete().where(UserRow.id == user_id).execute()

    def password_hash(self, user_id: str) -> str | None:
        row = UserRow.get_or_none(UserRow.id == user_id)
        return row.password_hash if row else None

    def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None:
        UserRow.update(password_hash=password_hash, update_time=to_micros(now)).where(
            UserRow.id == user_id
        ).execute()

    # -- the sign-in throttle (service/app/throttle.py) ---------------------
    # Times are epoch seconds; back-off functions take the failure count and
    # answer seconds. No revision bump: no decision depends on these rows.

    def signin_state(self, user_id: str) -> tuple[int, float]:
        """(consecutive failures, throttled until) of an account."""
        row = UserRow.get_or_none(UserRow.id == user_id)
        return (row.failed_signins, seconds(row.throttled_until)) if row else (0, 0.0)

    def clear_signin_state(self, user_id: str) -> None:
        UserRow.update(failed_signins=0, throttled_until=0).where(
            UserRow.id == user_id
        ).execute()

    def record_signin_failure(
        self, user_id: str, now: float, backoff: Callable[[int], float]
    ) -> int:
        """Count one failed password check atomically (concurrent failures must
        not be lost, or parallel guessing slips past the throttle) and throttle
        the account until now + backoff(failures). Returns the new count."""
        with self.transaction():
            # The UPDATE takes the row lock first, so the read below is ours.
            UserRow.update(failed_signins=UserRow.failed_signins + 1).where(
                UserRow.id == user_id
            ).execute()
            return self._throttle_after(
                UserRow, UserRow.failed_signins, UserRow.id == user_id, now, backoff
            )

    def name_signin_state(self, key: str) -> tuple[int, float]:
        """(failures, throttled until) of a name with no account."""
        row = SigninThrottleRow.get_or_none(SigninThrottleRow.key == key)
        return (row.failures, seconds(row.throttled_until)) if row else (0, 0.0)

    def record_name_signin_failure(
        self, key: str, now: float, backoff: Callable[[int], float]
    ) -> int:
        """record_signin_failure for a name with no account (SigninThrottleRow)."""
        with self.transaction():
            SigninThrottleRow.insert(
                key=key, failures=1, last_failure=seconds_to_micros(now)
            ).on_conflict(
                conflict_target=[SigninThrottleRow.key],
                update={
                    SigninThrottleRow.failures: SigninThrottleRow.failures + 1,
                    SigninThrottleRow.last_failure: seconds_to_micros(now),
                },
            ).execute()
            return self._throttle_after(
                SigninThrottleRow, SigninThrottleRow.failures, SigninThrottleRow.key == key,
                now, backoff,
            )

    @staticmethod
    def _throttle_after(
        model: type[Model],
        column: Any,
        where: Any,
        now: float,
        backoff: Callable[[int], float],
    ) -> int:
        failures = int(model.select(column).where(where).scalar() or 0)
        delay = backoff(failures)
        if delay:
            model.update(throttled_until=seconds_to_micros(now + delay)).where(where).execute()
        return failures

    def purge_name_throttles(self, idle_since: float, now: float) -> int:
        """Forget names whose last failure is older than idle_since and that are
        not throttled now (housekeeping, so guessed names do not pile up)."""
        return int(
            SigninThrottleRow.delete()
            .where(
                SigninThrottleRow.last_failure < seconds_to_micros(idle_since),
                SigninThrottleRow.throttled_until <= seconds_to_micros(now),
            )
            .execute()
        )
