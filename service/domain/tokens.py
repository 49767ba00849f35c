"""Token format (SPEC §6): `azt_` (API) or `azs_` (session) + 43 base62 characters
of randomness (>= 256 bits) + 6 base62 characters of the CRC32 of those 43.

Only the SHA-256 digest of a token is ever stored; `token_hint` (the first 8
characters) tells tokens apart in lists.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from enum import Enum

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)
RANDOM_LENGTH = 43
CHECKSUM_LENGTH = 6
PREFIX_LENGTH = 4
TOKEN_LENGTH = PREFIX_LENGTH + RANDOM_LENGTH + CHECKSUM_LENGTH  # 53
HINT_LENGTH = 8


class TokenKind(Enum):
    API = "azt_"
    SESSION = "azs_"


_KINDS = {k.value: k for k in TokenKind}


def _base62(value: int, width: int) -> str:
    digits = []
    while value:
        value, rem = divmod(value, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def new_token(kind: TokenKind, randbelow: Callable[[int], int]) -> str:
    """A fresh token; pass `secrets.randbelow` in production."""
    body = _base62(randbelow(62**RANDOM_LENGTH), RANDOM_LENGTH)
    return kind.value + body + _checksum(body)


def parse_token(token: str) -> TokenKind | None:
    """The token's kind if it is well-formed with a good checksum, else None.

    Called before any lookup, so garbage never reaches the store.
    """
    if len(token) != TOKEN_LENGTH:
        return None
    kind = _KINDS.get(token[:PREFIX_LENGTH])
    if kind is None:
        return None
    body = token[PREFIX_LENGTH : PREFIX_LENGTH + RANDOM_LENGTH]
    if not _BASE62_SET.issuperset(body):
        return None
    if token[PREFIX_LENGTH + RANDOM_LENGTH :] != _checksum(body):
        return None
    return kind


def token_digest(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_hint(token: str) -> str:
    return token[:HINT_LENGTH]
