"""Permissions and the decision rule of SPEC §2.

A Permission is an action on a resource (type, optional org, optional id). The
same value describes a grant (what a token holds) and a request (what a caller
asks to do); `match_permission(granted, requested)` is the rule, and
`PermissionSet` is the same rule compiled into dictionary lookups for the
CheckAccess hot path (no scan of the granted list).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from .errors import InvalidArgument
from .ids import is_valid_id


class Action(IntEnum):
    """Numbers equal the proto enum `authzd.v1.Action`."""

    READ = 1
    WRITE = 2

    @property
    def spelling(self) -> str:
        return self.name.lower()


class ResourceType(IntEnum):
    """Numbers equal the proto enum `authzd.v1.ResourceType`."""

    AUTHORIZATIONS = 1
    BUCKETS = 2
    DASHBOARDS = 3
    ORGS = 4
    SOURCES = 5
    TASKS = 6
    TELEGRAFS = 7
    USERS = 8
    VARIABLES = 9
    SCRAPERS = 10
    SECRETS = 11
    LABELS = 12
    VIEWS = 13
    DOCUMENTS = 14
    NOTIFICATION_RULES = 15
    NOTIFICATION_ENDPOINTS = 16
    CHECKS = 17
    DBRP = 18
    NOTEBOOKS = 19
    ANNOTATIONS = 20
    REMOTES = 21
    REPLICATIONS = 22
    INSTANCE = 23

    @property
    def spelling(self) -> str:
        """The InfluxDB spelling used by the CLI and the text form."""
        return _SPELLING[self]

    @classmethod
    def from_spelling(cls, text: str) -> ResourceType:
        try:
            return _BY_SPELLING[text]
        except KeyError:
            raise ValueError(f"unknown resource type {text!r}") from None


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(word.title() for word in rest)


_SPELLING = {t: _camel(t.name) for t in ResourceType}
_BY_SPELLING = {s: t for t, s in _SPELLING.items()}


@dataclass(frozen=True, slots=True)
class Permission:
    """An action on a resource. Empty org_id / id mean "not named"."""

    action: Action
    type: ResourceType
    org_id: str = ""
    id: str = ""

    def __str__(self) -> str:
        return format_permission(self)


def match_permission(granted: Permission, requested: Permission) -> bool:
    """SPEC §2: does the granted permission cover the requested one?"""
    if granted.action != requested.action:
        return False  # 1. write does not imply read
    if granted.type == ResourceType.INSTANCE:
        return True  # 2. instance covers everything for its action
    if granted.type != requested.type:
        return False  # 3.
    if not granted.org_id and not granted.id:
        return True  # 4. global
    if not granted.id:
        return requested.org_id == granted.org_id  # 5. org-wide
    # 6. by id. A grant that names an org matches only requests that name that
    # same org (InfluxDB 2.x ignores the org here). Without this, `orgs/O/users/U`
    # would match `users/U`, and an org-scoped token could mint it and take over
    # any user; with it, "the caller's set matches p" is exactly "the caller
    # covers every request p matches" (see covers()).
    if requested.id != granted.id:
        return False
    return not granted.org_id or requested.org_id == granted.org_id


class PermissionSet:
    """An ordered list of granted permissions compiled for O(1) decisions.

    `first_match(r)` returns the earliest granted permission that matches r
    under `match_permission`, looking up at most four dictionaries.
    """

    __slots__ = ("permissions", "_instance", "_global", "_org", "_by_id")

    def __init__(self, permissions: Iterable[Permission]) -> None:
        self.permissions: tuple[Permission, ...] = tuple(permissions)
        self._instance: dict[Action, int] = {}
        self._global: dict[tuple[Action, ResourceType], int] = {}
        self._org: dict[tuple[Action, ResourceType, str], int] = {}
        self._by_id: dict[tuple[Action, ResourceType, str], list[tuple[int, str]]] = {}
        for index, p in enumerate(self.permissions):
            if p.type == ResourceType.INSTANCE:
                self._instance.setdefault(p.action, index)
            elif not p.org_id and not p.id:
                self._global.setdefault((p.action, p.type), index)
            elif not p.id:
                self._org.setdefault((p.action, p.type, p.org_id), index)
            else:
                self._by_id.setdefault((p.action, p.type, p.id), []).append((index, p.org_id))

    def __len__(self) -> int:
        return len(self.permissions)

    def first_match(self, r: Permission) -> Permission | None:
        best = self._instance.get(r.action, -1)
        index = self._global.get((r.action, r.type), -1)
        if index >= 0 and (best < 0 or index < best):
            best = index
        if r.org_id:
            index = self._org.get((r.action, r.type, r.org_id), -1)
            if index >= 0 and (best < 0 or index < best):
                best = index
        if r.id:
            for index, org_id in self._by_id.get((r.action, r.type, r.id), ()):
                if org_id and org_id != r.org_id:
                    continue
                if best < 0 or index < best:
                    best = index
                break  # entries are in index order: the first that fits is the earliest
        return self.permissions[best] if best >= 0 else None

    def allows(self, r: Permission) -> bool:
        return self.first_match(r) is not None

    def covers(self, p: Permission) -> bool:
        """Granting is coverage (SPEC §2): whether every request that `p` matches is
        matched by a permission of this set. Under rule 6 as written this is the
        same as "this set matches p, taken as a request" (proved by brute force in
        tests/unit/test_coverage.py), so it costs one lookup."""
        return self.first_match(p) is not None

    def first_missing(self, wanted: Iterable[Permission]) -> Permission | None:
        """The first of `wanted` this set does not cover, or None if it covers all."""
        for p in wanted:
            if not self.covers(p):
                return p
        return None


def format_permission(p: Permission) -> str:
    """Text form: `read:orgs/<org>/buckets/<id>`, `read:buckets`, `read:orgs/<id>`."""
    path = p.type.spelling
    if p.id:
        path = f"{path}/{p.id}"
    if p.org_id:
        path = f"orgs/{p.org_id}/{path}"
    return f"{p.action.spelling}:{path}"


def parse_permission(text: str, field: str = "permission") -> Permission:
    """Inverse of format_permission; INVALID_ARGUMENT on anything else."""
    action_text, sep, path = text.partition(":")
    try:
        if not sep:
            raise ValueError("expected <read|write>:<resource>")
        action = Action[action_text.upper()] if action_text in ("read", "write") else None
        if action is None:
            raise ValueError(f"unknown action {action_text!r}")
        parts = path.split("/")
        if "" in parts:
            # An empty org or id would otherwise silently widen the permission
            # (`read:orgs//buckets` would parse as the global `read:buckets`).
            raise ValueError("empty path segment")
        org_id = ""
        if len(parts) >= 3 and parts[0] == "orgs":
            org_id = parts[1]
            parts = parts[2:]
        if len(parts) not in (1, 2):
            raise ValueError("too many path segments")
        rtype = ResourceType.from_spelling(parts[0])
        rid = parts[1] if len(parts) == 2 else ""
        for value in (org_id, rid):
            if value and not is_valid_id(value):
                raise ValueError(f"{value!r} is not an id")
    except ValueError as exc:
        # Both parts bounded: the detail quotes a segment of the caller's text.
        detail = str(exc)[:80]
        message = f"{text[:80]!r}: {detail}"
        raise InvalidArgument(field, message, reason="INVALID_PERMISSION") from None
    return Permission(action, rtype, org_id, rid)


def check_permission(field: str, p: Permission) -> Permission:
    """Validate ids of a permission built from a request (types are enums already)."""
    for name, value in (("resource.org_id", p.org_id), ("resource.id", p.id)):
        if value and not is_valid_id(value):
            raise InvalidArgument(
                f"{field}.{name}",
                f"{value[:40]!r} is not an id (16 lowercase hex characters, not all zeros)",
                reason="INVALID_PERMISSION",
            )
    return p

