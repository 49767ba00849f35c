"""Input checks shared by the use cases: names, descriptions, passwords, pages."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from service.domain.errors import InvalidArgument
from service.domain.ids import is_valid_id
from service.store.database import Page

MAX_NAME = 256
MAX_DESCRIPTION = 1024
MIN_PASSWORD = 8
MAX_PASSWORD = 256
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    R = TypeVar("R", bound=DataclassInstance)
else:
    R = TypeVar("R")


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text)


# Characters that make two names look alike or hide what a name says: controls,
# format characters (zero-width, BOM, bidi overrides), line/paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ID_SHAPE = re.compile(r"[0-9a-fA-F]{16}")


def check_name(field: str, value: str) -> str:
    """A new name (create, rename, setup), NFC-normalised; returns the name to
    store. Names that could be mistaken for another (SPEC §4) are refused:
    leading/trailing whitespace, invisible characters, and the shape of an id
    (an org named like another org's id). Lookups by name are not checked, so
    rows stored before these rules keep working."""
    if not value or not value.strip():
        raise InvalidArgument(field, "must not be empty")
    value = unicodedata.normalize("NFC", value)
    if len(value) > MAX_NAME:
        raise InvalidArgument(field, f"must be at most {MAX_NAME} characters")
    if value != value.strip():
        raise InvalidArgument(field, "must not begin or end with whitespace")
    for c in value:
        if unicodedata.category(c) in _INVISIBLE_CATEGORIES:
            raise InvalidArgument(
                field,
                f"must not contain control, format or separator characters "
                f"(found U+{ord(c):04X})",
            )
    if _ID_SHAPE.fullmatch(value):
        raise InvalidArgument(field, "must not look like an id (16 hexadecimal characters)")
    return value


def check_description(field: str, value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidArgument(field, f"must be at most {MAX_DESCRIPTION} characters")
    if _has_control(value, allowed="\t"):
        raise InvalidArgument(field, "must not contain control characters")
    return value


def check_password(field: str, value: str) -> str:
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidArgument(
            field,
            f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            reason="INVALID_PASSWORD",
        )
    if "\x00" in value:
        raise InvalidArgument(field, "must not contain NUL", reason="INVALID_PASSWORD")
    return value


@dataclass(frozen=True)
class PageRequest:
    kind: str
    size: int
    after: str



def page_request(kind: str, page_size: int, page_token: str) -> PageRequest:
    """Validate AIP-158 paging fields. Tokens are opaque: `<kind>:<last id>`."""
    if page_size < 0:
        raise InvalidArgument("page_size", "must not be negative", reason="INVALID_PAGE")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = ""
    if page_token:
        try:
            text = base64.urlsafe_b64decode(page_token.encode("ascii")).decode("ascii")
        except (binascii.Error, UnicodeError, ValueError):
            text = ""
        token_kind, _, after = text.partition(":")
        if token_kind != kind or not is_valid_id(after):
            raise InvalidArgument(
                "page_token", "was not returned by this list", reason="INVALID_PAGE"
            )
    return PageRequest(kind, size, after)


def next_page_token(kind: str, last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode("ascii")).decode("ascii")


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Rec = TypeVar("Rec", bound=Identified)


def collect_page(
    req: PageRequest, fetch: Callable[[Page], list[Rec]], visible: Callable[[Rec], bool]
) -> tuple[list[Rec], str]:
    """Fill one page with visible items, scanning the store by id in chunks;
    invisible items are left out silently (existence never leaks). The token is
    empty on the page that holds the last visible item (AIP-158): a full page
    looks one visible item further before handing out a token."""
    out: list[Rec] = []
    after = req.after
    chunk = req.size + 1
    while True:
        batch = fetch(Page(after, chunk))
        for item in batch:
            if visible(item):
                if len(out) == req.size:
                    return out, next_page_token(req.kind, out[-1].id)
                out.append(item)
        if len(batch) < chunk:
            return out, ""
        after = batch[-1].id


def updated(record: R, chosen: set[str], now: datetime, **values: Any) -> R:
    """AIP-134's last step: the record with each chosen field set to its value
    (checked by the caller), and update_time now."""
    changes = {k: v for k, v in values.items() if k in chosen}
    return dataclasses.replace(record, **changes, update_time=now)


def update_paths(paths: Sequence[str], **present: bool) -> set[str]:
    """AIP-134: the mask, or every updatable field that is set when it is empty."""
    allowed = set(present)
    if not paths:
        chosen = {k for k, v in present.items() if v}
        if not chosen:
            raise InvalidArgument("update_mask", "nothing to update", reason="INVALID_UPDATE_MASK")
        return chosen
    unknown = [p for p in paths if p not in allowed]
    if unknown:
        raise InvalidArgument(
            "update_mask",
            # Bounded: the path is the caller's text, and an unbounded message
            # overflows the status trailer (the client then sees RESOURCE_EXHAUSTED).
            f"cannot update {unknown[0][:80]!r}; updatable: {', '.join(sorted(allowed))}",
            reason="INVALID_UPDATE_MASK",
        )
    return set(paths)
