"""SPEC §1: ids are 16 lowercase hex characters, never all zeros."""

from __future__ import annotations

import secrets

import pytest

from service.domain.errors import Code, InvalidArgument
from service.domain.ids import check_id, is_valid_id, new_id


@pytest.mark.parametrize("value", ["0a1b2c3d4e5f6071", "ffffffffffffffff", "0000000000000001"])
def test_valid_ids(value: str) -> None:
    assert is_valid_id(value)
    assert check_id("org_id", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0000000000000000",
        "0A1B2C3D4E5F6071",
        "0a1b2c3d4e5f607",
        "0a1b2c3d4e5f60710",
        "0a1b2c3d4e5f607g",
        " 0a1b2c3d4e5f6071",
        "0a1b2c3d4e5f6071\n",
        "0a1b-2c3d4e5f607",
        "٠a1b2c3d4e5f6071",  # an Arabic-Indic digit is not an ASCII hex digit
    ],
)
def test_invalid_ids(value: str) -> None:
    assert not is_valid_id(value)
    with pytest.raises(InvalidArgument) as info:
        check_id("user_id", value)
    err = info.value
    assert err.code is Code.INVALID_ARGUMENT
    assert err.reason == "INVALID_ID"
    assert err.field == "user_id"
    assert err.message.startswith("user_id: ")


def test_check_id_error_truncates_long_values() -> None:
    with pytest.raises(InvalidArgument) as info:
        check_id("id", "x" * 10_000)
    assert len(info.value.message) < 200


def test_new_id_is_hex_of_eight_bytes() -> None:
    calls: list[int] = []

    def fake(n: int) -> bytes:
        calls.append(n)
        return bytes(range(1, n + 1))

    assert new_id(fake) == "0102030405060708"
    assert calls == [8]


def test_new_id_never_returns_all_zeros() -> None:
    supply = iter([b"\x00" * 8, b"\x00" * 8, b"\x00" * 7 + b"\x01"])
    assert new_id(lambda n: next(supply)) == "0000000000000001"


def test_new_id_from_real_randomness() -> None:
    ids = {new_id(secrets.token_bytes) for _ in range(100)}
    assert len(ids) == 100
    assert all(is_valid_id(i) for i in ids)
