"""Session queries."""

from __future__ import annotations

from datetime import datetime

from peewee import JOIN

from service.domain.models import Session

from .codec import SessionRecord, seconds, to_micros, user_status
from .engine import Engine
from .models import SessionRow, UserRow


class SessionQueries(Engine):
    def create_session(self, session: Session, token_digest: str) -> Session:
        SessionRow.create(
            id=session.id,
            user=session.user_id,
            token_digest=token_digest,
            create_time=to_micros(session.create_time),
            expire_time=to_micros(session.expire_time),
        )
        return session

    def session_record(self, token_digest: str) -> SessionRecord | None:
        row = (
            SessionRow.select(
                SessionRow.id, SessionRow.user, SessionRow.expire_time,
                UserRow.status.alias("user_status"),
            )
            .join(UserRow, JOIN.LEFT_OUTER, on=(SessionRow.user == UserRow.id))
            .where(SessionRow.token_digest == token_digest)
            .tuples()
            .first()
        )
        if row is None:
            return None
        session_id, user_id, expire, owner_status = row
        return SessionRecord(session_id, user_id, seconds(expire), user_status(owner_status))

    def delete_session(self, session_id: str) -> None:
        SessionRow.delete().where(SessionRow.id == session_id).execute()

    def delete_sessions_of(self, user_id: str, except_session_id: str = "") -> int:
        """End every session of a user (but one: the caller's own, for a self
        password change). Call inside a write transaction."""
        q = SessionRow.delete().where(SessionRow.user == user_id)
        if except_session_id:
            q = q.where(SessionRow.id != except_session_id)
        return int(q.execute())

    def delete_expired_sessions(self, now: datetime) -> int:
        return int(SessionRow.delete().where(SessionRow.expire_time <= to_micros(now)).execute())
