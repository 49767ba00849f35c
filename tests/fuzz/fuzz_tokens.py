"""atheris target: token parsing (SPEC §6).

Run: python tests/fuzz/fuzz_tokens.py -runs=20000   (libFuzzer flags)

For any text, parse_token returns a kind or None and never raises; a text it
accepts is exactly `azt_`/`azs_` + 43 base62 + the 6-character CRC32 of those
43; token_digest takes any text (lone surrogates included). A freshly minted
token parses back to its kind, and changing any one of its body or checksum
characters makes it unparseable (CRC32 catches every one-character change).
"""

from __future__ import annotations

import os
import sys
import zlib

import atheris

with atheris.instrument_imports(include=["service.domain"]):
    from service.domain.tokens import (
        BASE62,
        PREFIX_LENGTH,
        TOKEN_LENGTH,
        TokenKind,
        new_token,
        parse_token,
        token_digest,
        token_hint,
    )

# The runner's self-check: a target that fails must make the run fail.
SELF_CHECK = os.environ.get("AUTHZD_FUZZ_SELF_CHECK") == "1"


def _checksum(body: str) -> str:
    value, digits = zlib.crc32(body.encode("ascii")), []
    while value:
        value, rem = divmod(value, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(6, "0")


def check_text(text: str) -> None:
    kind = parse_token(text)
    digest = token_digest(text)
    assert len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    if kind is None:
        return
    assert isinstance(kind, TokenKind)
    assert len(text) == TOKEN_LENGTH and text.startswith(kind.value)
    body = text[PREFIX_LENGTH:-6]
    assert all(c in BASE62 for c in body), text
    assert text[-6:] == _checksum(body), text
    assert token_hint(text) == text[:8]


def check_minted(fdp: atheris.FuzzedDataProvider) -> None:
    kind = TokenKind.API if fdp.ConsumeBool() else TokenKind.SESSION
    seed = int.from_bytes(fdp.ConsumeBytes(33), "big")
    token = new_token(kind, lambda n: seed % n)
    assert parse_token(token) is kind, token
    at = fdp.ConsumeIntInRange(PREFIX_LENGTH, TOKEN_LENGTH - 1)
    replacement = fdp.ConsumeUnicode(1) or "!"
    if replacement != token[at]:
        mutated = token[:at] + replacement + token[at + 1:]
        assert parse_token(mutated) is None, (token, mutated)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    """First byte even: the rest is the text (UTF-8; undecodable bytes become
    lone surrogates), so seeds are readable tokens. Odd: mint and mutate."""
    if SELF_CHECK and data[:1] == b"!":
        raise RuntimeError("self-check: the runner must report this")
    if not data or data[0] % 2 == 0:
        check_text(data[1:].decode("utf-8", "surrogateescape"))
    else:
        check_minted(atheris.FuzzedDataProvider(data[1:]))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
