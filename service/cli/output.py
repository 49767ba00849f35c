"""Output: aligned tables for people, JSON for scripts.

Every command builds records (plain dicts with stable snake_case keys, the same
for a server answer and for a recovery read of the database); `--json` prints
them as they are, and tables pick and render columns from them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from service.domain.permissions import Action, Permission, ResourceType, format_permission

Record = dict[str, Any]
# (header, how to render one record's cell; a list renders one line per item)
Column = tuple[str, Callable[[Record], Any]]

_STATUS = {1: "active", 2: "inactive"}


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_text(value: int) -> str:
    return _STATUS.get(int(value), "unknown")


# -- records from protos (server answers) ------------------------------------


def _ts(msg: Any, name: str) -> str | None:
    if not msg.HasField(name):
        return None
    return iso(getattr(msg, name).ToDatetime(tzinfo=UTC))


def permission_text(p: Any) -> str:
    """A proto Permission in the text form of SPEC §1."""
    try:
        domain = Permission(
            Action(p.action), ResourceType(p.resource.type), p.resource.org_id, p.resource.id
        )
    except ValueError:
        return f"<unknown action {p.action} / type {p.resource.type}>"
    return format_permission(domain)


def _proto_times(m: Any) -> Record:
    return {"create_time": _ts(m, "create_time"), "update_time": _ts(m, "update_time")}


def authorization_record(a: Any) -> Record:
    return {
        "id": a.id,
        "description": a.description,
        "status": status_text(a.status),
        "user_id": a.user_id,
        "user": a.user,
        "org_id": a.org_id,
        "org": a.org,
        "permissions": [permission_text(p) for p in a.permissions],
        "token_hint": a.token_hint,
        **_proto_times(a),
        "expire_time": _ts(a, "expire_time"),
        "last_used_time": _ts(a, "last_used_time"),
    }


def user_record(u: Any) -> Record:
    return {
        "id": u.id,
        "name": u.name,
        "status": status_text(u.status),
        "has_password": u.has_password,
        **_proto_times(u),
    }


def org_record(o: Any) -> Record:
    return {
        "id": o.id,
        "name": o.name,
        "description": o.description,
        **_proto_times(o),
    }


def bucket_record(b: Any) -> Record:
    return {
        "id": b.id,
        "name": b.name,
        "org_id": b.org_id,
        "org": b.org,
        "description": b.description,
        **_proto_times(b),
    }


# -- columns -------------------------------------------------------------------


def _or(key: str, empty: str) -> Callable[[Record], Any]:
    return lambda r: r.get(key) or empty


def token_kind(record: Record) -> str:
    """`Operator`, `All-Access` or `Custom`: what the permission list amounts to
    (the presets of SPEC §3, compared as sets)."""
    from service.domain.presets import all_access_permissions, operator_permissions

    held = set(record["permissions"])
    if held == {format_permission(p) for p in operator_permissions()}:
        return "Operator"
    owner, org = record.get("user_id") or "", record.get("org_id") or ""
    if held == {format_permission(p) for p in all_access_permissions(org, owner)}:
        return "All-Access"
    return "Custom"


def kind_cell(record: Record) -> str:
    return f"{token_kind(record)} ({len(record['permissions'])})"


SUMMARY_ITEMS = 2  # permissions shown in a table row before "+N more"


def permission_summary(record: Record) -> str:
    """One short cell: presets in words, else the first permissions and a count."""
    kind = token_kind(record)
    if kind == "Operator":
        return "everything, the instance included"
    if kind == "All-Access":
        return f"everything in {record.get('org') or record.get('org_id')}"
    perms: list[str] = record["permissions"]
    shown = ", ".join(perms[:SUMMARY_ITEMS])
    rest = len(perms) - SUMMARY_ITEMS
    return f"{shown}, +{rest} more" if rest > 0 else shown


LAST_USED_NOTE = ("Last used is written at most once a minute: a token used in the last "
                  "minute may still show the previous time (or never).")

_AUTH_HEAD: list[Column] = [
    ("ID", _or("id", "")),
    ("Description", _or("description", "")),
    ("Status", _or("status", "")),
    ("User", _or("user", "")),
    ("Org", _or("org", "")),
    ("Kind", kind_cell),
]
_AUTH_TAIL: list[Column] = [
    ("Expires", _or("expire_time", "never")),
    ("Last used", _or("last_used_time", "never")),
]
# Tables: one line a token, permissions summarised ...
AUTH_COLUMNS: list[Column] = [*_AUTH_HEAD, ("Permissions", permission_summary), *_AUTH_TAIL]
# ... or, with --permissions, one line a permission.
AUTH_COLUMNS_EXPANDED: list[Column] = [
    *_AUTH_HEAD, ("Permissions", lambda r: r["permissions"]), *_AUTH_TAIL]


def auth_fields(record: Record) -> str:
    """`authzd auth show`: one token, every field and every permission."""
    return fields([
        ("ID", record["id"]),
        ("Description", record["description"]),
        ("Status", record["status"]),
        ("Kind", kind_cell(record)),
        ("User", f"{record['user']} ({record['user_id']})"),
        ("Org", f"{record['org']} ({record['org_id']})"),
        ("Token hint", f"{record['token_hint']}…"),
        ("Created", record["create_time"] or ""),
        ("Updated", record["update_time"] or ""),
        ("Expires", record["expire_time"] or "never"),
        ("Last used", (record["last_used_time"] or "never") + " (updated once a minute)"),
        ("Permissions", record["permissions"]),
    ])

USER_COLUMNS: list[Column] = [
    ("ID", _or("id", "")),
    ("Name", _or("name", "")),
    ("Status", _or("status", "")),
    ("Password", lambda r: "yes" if r.get("has_password") else "no"),
    ("Created", _or("create_time", "")),
]

ORG_COLUMNS: list[Column] = [
    ("ID", _or("id", "")),
    ("Name", _or("name", "")),
    ("Description", _or("description", "")),
    ("Created", _or("create_time", "")),
]

BUCKET_COLUMNS: list[Column] = [
    ("ID", _or("id", "")),
    ("Name", _or("name", "")),
    ("Org", _or("org", "")),
    ("Org ID", _or("org_id", "")),
    ("Description", _or("description", "")),
]


# -- printing ------------------------------------------------------------------


def _cell_lines(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value] or [""]
    # One line per cell: a description with a tab or newline must not break rows.
    return [" ".join(str(value).split())]


def table(records: Iterable[Record], columns: Sequence[Column]) -> str:
    """Aligned columns; a list cell (permissions) takes one line per item."""
    rows: list[list[str]] = [[header for header, _ in columns]]
    for record in records:
        cells = [_cell_lines(render(record)) for _, render in columns]
        height = max(len(c) for c in cells)
        for i in range(height):
            rows.append([c[i] if i < len(c) else "" for c in cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column `Key  value` block for one object."""
    width = max(len(k) for k, _ in pairs)
    lines = []
    for key, value in pairs:
        values = _cell_lines(value)
        lines.append(f"{key.ljust(width)}  {values[0]}".rstrip())
        lines.extend(f"{'':{width}}  {v}" for v in values[1:])
    return "\n".join(lines)


def show_fields(args: Any, record: Any, pairs: Sequence[tuple[str, Any]]) -> None:
    """One object: --json prints `record`; else the `Key  value` block of `pairs`
    (the same facts, worded for people)."""
    if getattr(args, "json", False):
        emit_json(record)
    else:
        emit(fields(pairs))


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def show(args: Any, records: list[Record] | Record, columns: Sequence[Column]) -> None:
    """--json: the record(s) as they are; --quiet: their IDs, one a line; else a table."""
    if getattr(args, "json", False):
        emit_json(records)
        return
    rows = records if isinstance(records, list) else [records]
    if getattr(args, "quiet", False):
        for record in rows:
            emit(str(record.get("id", "")))
        return
    if columns is AUTH_COLUMNS and getattr(args, "permissions", False):
        columns = AUTH_COLUMNS_EXPANDED
    emit(table(rows, columns))
