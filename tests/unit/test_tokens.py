"""SPEC §6: token format, checksum, digest and hint."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib

import pytest

from service.domain.tokens import (
    TokenKind,
    new_token,
    parse_token,
    token_digest,
    token_hint,
)

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
TOKEN_RE = re.compile(r"az[ts]_[0-9A-Za-z]{49}")


def base62(value: int, width: int) -> str:
    """Independent of the module under test: most significant digit first, zero-padded."""
    out = ""
    while value:
        value, rem = divmod(value, 62)
        out = ALPHABET[rem] + out
    return out.rjust(width, "0")


def expected_token(prefix: str, body: str) -> str:
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


class FakeRandbelow:
    def __init__(self, value: int | None = None) -> None:
        self.value = value
        self.calls: list[int] = []

    def __call__(self, n: int) -> int:
        self.calls.append(n)
        return n - 1 if self.value is None else self.value


# Format


@pytest.mark.parametrize(("kind", "prefix"), [(TokenKind.API, "azt_"), (TokenKind.SESSION, "azs_")])
def test_new_token_format(kind: TokenKind, prefix: str) -> None:
    token = new_token(kind, secrets.randbelow)
    assert len(token) == 53
    assert token.startswith(prefix)
    assert TOKEN_RE.fullmatch(token)
    body = token[4:47]
    assert token == expected_token(prefix, body)
    assert parse_token(token) is kind


def test_randomness_is_at_least_256_bits() -> None:
    fake = FakeRandbelow(0)
    new_token(TokenKind.API, fake)
    assert fake.calls == [62**43]
    assert 62**43 >= 2**256


def test_deterministic_with_fake_randbelow() -> None:
    zero = new_token(TokenKind.API, FakeRandbelow(0))
    assert zero == expected_token("azt_", "0" * 43)
    assert zero == new_token(TokenKind.API, FakeRandbelow(0))

    top = new_token(TokenKind.SESSION, FakeRandbelow())  # randbelow(n) -> n - 1
    assert top == expected_token("azs_", "z" * 43)

    value = 123456789012345678901234567890
    token = new_token(TokenKind.API, FakeRandbelow(value))
    assert token == expected_token("azt_", base62(value, 43))
    assert token[4:47].lstrip("0") == base62(value, 0)


def test_checksum_is_zero_padded_crc32_of_the_body() -> None:
    body = "0" * 43
    crc = zlib.crc32(body.encode())
    token = new_token(TokenKind.API, FakeRandbelow(0))
    assert token[-6:] == base62(crc, 6)
    # Bodies whose CRC32 is small get a padded checksum; find one and check padding.
    small = next(
        b for b in (base62(i, 43) for i in range(200_000)) if zlib.crc32(b.encode()) < 62**5
    )
    padded = expected_token("azt_", small)
    assert padded[-6] == "0"
    assert parse_token(padded) is TokenKind.API


def test_distinct_tokens_from_real_randomness() -> None:
    tokens = {new_token(TokenKind.API, secrets.randbelow) for _ in range(200)}
    assert len(tokens) == 200


# Rejection


def test_every_single_character_change_is_rejected() -> None:
    token = new_token(TokenKind.API, secrets.randbelow)
    replacements = ALPHABET + "_-+/= .\x00é"
    accepted = []
    for i, original in enumerate(token):
        for c in replacements:
            if c == original:
                continue
            changed = token[:i] + c + token[i + 1 :]
            kind = parse_token(changed)
            if kind is not None:
                accepted.append((i, c, kind))
    # The checksum covers the 43 random characters only (SPEC §6), so the one change
    # that still parses is azt_ → azs_: a session token with another digest, which
    # no lookup will find. Everything else is refused before any lookup.
    assert accepted == [(2, "s", TokenKind.SESSION)]


def test_session_prefix_change_is_rejected_symmetrically() -> None:
    token = new_token(TokenKind.SESSION, secrets.randbelow)
    assert parse_token("azt_" + token[4:]) is TokenKind.API
    assert token_digest("azt_" + token[4:]) != token_digest(token)


def test_swapping_two_body_characters_is_rejected() -> None:
    token = new_token(TokenKind.API, FakeRandbelow(10**70))
    body = list(token[4:47])
    i = next(k for k in range(42) if body[k] != body[k + 1])
    body[i], body[i + 1] = body[i + 1], body[i]
    assert parse_token("azt_" + "".join(body) + token[47:]) is None


@pytest.mark.parametrize(
    "prefix", ["azx_", "AZT_", "azt-", "azt:", "abc_", "aztt", "Azt_", "azs-", "zat_"]
)
def test_wrong_prefix_is_rejected(prefix: str) -> None:
    token = new_token(TokenKind.API, secrets.randbelow)
    assert parse_token(prefix + token[4:]) is None


def test_wrong_length_is_rejected() -> None:
    token = new_token(TokenKind.API, secrets.randbelow)
    assert parse_token(token) is TokenKind.API
    assert parse_token(token[:-1]) is None
    assert parse_token(token + "0") is None
    assert parse_token(token[:4] + "0" + token[4:]) is None
    assert parse_token("") is None
    assert parse_token("azt_") is None
    # A 53-character string with a checksum that would fit a 42-character body.
    body = "1" * 42
    assert parse_token("azt_" + body + base62(zlib.crc32(body.encode()), 7)) is None


def test_non_base62_body_with_matching_checksum_is_rejected() -> None:
    for bad in ("-", "_", "+", "/", " ", "é", "٣"):
        body = bad + "0" * 42
        crc = base62(zlib.crc32(body.encode()), 6)
        assert parse_token("azt_" + body + crc) is None


def test_non_base62_checksum_is_rejected() -> None:
    token = new_token(TokenKind.API, secrets.randbelow)
    assert parse_token(token[:-1] + "-") is None
    assert parse_token(token[:-6] + "      ") is None


def test_unrelated_strings_are_rejected() -> None:
    for text in ("Token azt_", "x" * 53, "azt_" + "0" * 49, "\x00" * 53):
        assert parse_token(text) is None


# Digest and hint


def test_digest_is_sha256_hex() -> None:
    token = new_token(TokenKind.API, FakeRandbelow(42))
    digest = token_digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token not in digest
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_digest_differs_between_tokens() -> None:
    a = new_token(TokenKind.API, FakeRandbelow(1))
    b = new_token(TokenKind.API, FakeRandbelow(2))
    assert token_digest(a) != token_digest(b)


def test_digest_accepts_arbitrary_text_without_raising() -> None:
    """Garbage in the authorization header must not crash hashing."""
    assert len(token_digest("\ud800bad surrogate")) == 64
    assert len(token_digest("é" * 10)) == 64


def test_hint_is_first_eight_characters() -> None:
    token = new_token(TokenKind.API, FakeRandbelow(0))
    assert token_hint(token) == "azt_0000"
    real = new_token(TokenKind.SESSION, secrets.randbelow)
    assert token_hint(real) == real[:8]
    assert len(token_hint(real)) == 8
    assert token_hint(real).startswith("azs_")
