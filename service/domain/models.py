"""Domain records, as the store returns them and the use cases hand them on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from .permissions import Permission, ResourceType


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
class RetentionRule:
    """InfluxDB's bucket retention rule (`{"type": "expire", "everySeconds": N}`)."""

    type: str
    every_seconds: int


@dataclass(frozen=True, slots=True)
class Bucket:
    id: str
    org_id: str
    org_name: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime
    # Kept and returned for InfluxDB clients (HTTP API); authzd does not act on them.
    retention_rules: tuple[RetentionRule, ...] = ()


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
    # (id, name) of the buckets its permissions name, where the store knows them
    # (output only: Resource.name).
    bucket_names: tuple[tuple[str, str], ...] = ()

    def resource_names(self, p: Permission) -> tuple[str, str]:
        """(name, org name) of what a permission of this token names, where
        known: its org, its own user, its buckets."""
        org = self.org_name if p.org_id and p.org_id == self.org_id else ""
        if p.type is ResourceType.ORGS and p.id == self.org_id:
            return self.org_name, org
        if p.type is ResourceType.USERS and p.id == self.user_id:
            return self.user_name, org
        if p.type is ResourceType.BUCKETS and p.id:
            return dict(self.bucket_names).get(p.id, ""), org
        return "", org


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    create_time: datetime
    expire_time: datetime
