"""The permission lists the server expands for token presets (SPEC §3)."""

from __future__ import annotations

from collections.abc import Iterable

from .permissions import Action, Permission, ResourceType

_ACTIONS = (Action.READ, Action.WRITE)

# Numbers equal the proto enum `authzd.v1.Preset` (0: no preset).
PRESET_OPERATOR = 1
PRESET_ALL_ACCESS = 2


def operator_permissions() -> list[Permission]:
    """Read and write, global, on all 23 types including instance: 46 permissions."""
    return [Permission(a, t) for t in ResourceType for a in _ACTIONS]


def all_access_permissions(org_id: str, user_id: str) -> list[Permission]:
    """Everything in one org for one user: 45 permissions.

    `read:orgs/O` (the org itself, read only), read+write `users/U` (the owner),
    and read+write `orgs/O/<type>` for the 21 other non-instance types.
    """
    ps: list[Permission] = []
    for t in ResourceType:
        if t == ResourceType.INSTANCE:
            continue
        if t == ResourceType.ORGS:
            ps.append(Permission(Action.READ, t, id=org_id))
            continue
        if t == ResourceType.USERS:
            ps.extend(Permission(a, t, id=user_id) for a in _ACTIONS)
        ps.extend(Permission(a, t, org_id=org_id) for a in _ACTIONS)
    return ps


def holds_instance_write(permissions: Iterable[Permission]) -> bool:
    return any(p.type == ResourceType.INSTANCE and p.action == Action.WRITE for p in permissions)
