"""How domain values are stored: times as integer microseconds since the Unix
epoch (UTC, identical on SQLite and PostgreSQL, sorting correctly), permissions
as their text form one per line. Only the store encodes and decodes; callers
get datetimes, epoch seconds and Permission values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from service.domain.models import RetentionRule, Status
from service.domain.permissions import Permission, format_permission, parse_permission


def to_micros(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def seconds_to_micros(t: float) -> int:
    return int(t * 1_000_000)


def seconds(v: int) -> float:
    """A stored microsecond count as epoch seconds."""
    return v / 1_000_000


def micros_to_seconds(v: int | None) -> float | None:
    return None if v is None else seconds(v)


def from_micros(v: int | None) -> datetime | None:
    return None if v is None else to_datetime(v)


def time_columns(record: Any) -> dict[str, int]:
    """A record's create_time and update_time as the row stores them."""
    return {"create_time": to_micros(record.create_time),
            "update_time": to_micros(record.update_time)}


def row_times(row: Any) -> tuple[datetime, datetime]:
    """A row's (create_time, update_time) as the domain has them."""
    return to_datetime(row.create_time), to_datetime(row.update_time)


def to_datetime(v: int) -> datetime:
    return datetime.fromtimestamp(seconds(v), tz=UTC)


def encode_retention_rules(rules: Sequence[RetentionRule]) -> str:
    return "\n".join(f"{r.type}:{r.every_seconds}" for r in rules)


def decode_retention_rules(text: str) -> tuple[RetentionRule, ...]:
    out = []
    for line in text.split("\n"):
        kind, _, every = line.rpartition(":")
        if kind:
            out.append(RetentionRule(kind, int(every)))
    return tuple(out)


def encode_permissions(ps: Sequence[Permission]) -> str:
    return "\n".join(format_permission(p) for p in ps)


# Parsed permissions, shared: 100,000 tokens over a few thousand buckets hold a
# few thousand distinct permissions, not a million copies. Bounded.
_PARSED: dict[str, Permission] = {}
_PARSED_MAX = 1_000_000


def _permission(line: str) -> Permission:
    p = _PARSED.get(line)
    if p is None:
        p = parse_permission(line)
        if len(_PARSED) < _PARSED_MAX:
            _PARSED[line] = p
    return p


def decode_permissions(text: str) -> tuple[Permission, ...]:
    return tuple(_permission(line) for line in text.split("\n") if line)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What CheckAccess needs about an API token, straight from one query."""

    authorization_id: str
    user_id: str
    org_id: str
    status: Status
    expire_at: float | None  # epoch seconds
    permissions: tuple[Permission, ...]
    user_status: Status


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    user_id: str
    expire_at: float  # epoch seconds
    user_status: Status


class InstanceWriter(NamedTuple):
    """An authorization that keeps the instance a way in (the last-Operator guard)."""

    authorization_id: str
    user_id: str
    org_id: str


@dataclass(frozen=True, slots=True)
class Page:
    """Keyset pagination: rows with id > after, at most limit of them."""

    after: str
    limit: int


def user_status(value: int | None) -> Status:
    """A joined user's status; a missing user (deleted meanwhile) is inactive."""
    return Status(value) if value else Status.INACTIVE
