"""Identifiers: 16 lowercase hex characters, never all zeros."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import InvalidArgument

_ID = re.compile(r"[0-9a-f]{16}")
ZERO_ID = "0" * 16


def is_valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None and value != ZERO_ID


def check_id(field: str, value: str) -> str:
    """Return value if it is a valid id, else raise INVALID_ARGUMENT naming field."""
    if not is_valid_id(value):
        raise InvalidArgument(
            field,
            f"{value[:40]!r} is not an id (16 lowercase hex characters, not all zeros)",
            reason="INVALID_ID",
        )
    return value


def new_id(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh id from the given source of random bytes (e.g. secrets.token_bytes)."""
    while True:
        value = random_bytes(8).hex()
        if value != ZERO_ID:
            return value
