"""Domain records, as the store returns them and the use cases hand them on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from .permissions import Permission


class Status(IntEnum):
    """Numbers equal the proto enum `authzd.v1.Status`."""

    ACTIVE = 1
    INACTIVE = 2


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    status: Status
    has_password: bool
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True, slots=True)
class Bucket:
    id: str
    org_id: str
    org_name: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True, slots=True)
class Authorization:
    id: str
    org_id: str
    org_name: str
    user_id: str
    user_name: str
    description: str
    status: Status
    permissions: tuple[Permission, ...]
    token_hint: str
    create_time: datetime
    update_time: datetime
    expire_time: datetime | None = None
    last_used_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    create_time: datetime
    expire_time: datetime
