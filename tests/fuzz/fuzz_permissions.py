"""atheris target: permission text parsing (SPEC §1 text form).

Run: python tests/fuzz/fuzz_permissions.py -runs=20000   (libFuzzer flags)

parse_permission either raises InvalidArgument (reason INVALID_PERMISSION, the
field it was given, a message of bounded length however long the input) or
returns a permission whose ids are well-formed and which formats back to exactly
the text it came from (the text form is canonical); format -> parse gives the
same permission back. Any other exception is a crash. Half of the inputs are
assembled from the grammar's own words, so the fuzzer reaches the accepting
paths, not only the first rejection.
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports(include=["service.domain"]):
    from service.domain.errors import InvalidArgument
    from service.domain.ids import is_valid_id
    from service.domain.permissions import (
        ResourceType,
        format_permission,
        parse_permission,
    )

SELF_CHECK = os.environ.get("AUTHZD_FUZZ_SELF_CHECK") == "1"
# The error quotes at most 80 characters of the input (repr: up to 10 characters
# each, for `\U000e0000`) and 80 of the reason: bounded whatever the input.
MAX_MESSAGE = 1024

WORDS = [
    "read", "write", "READ", "Write", "", ":", "/", "//", "orgs", "orgs/", "instance",
    "0a1b2c3d4e5f6071", "ffffffffffffffff", "0000000000000000", "0A1B2C3D4E5F6071",
    "0a1b2c3d4e5f607", "0a1b2c3d4e5f60711", "\x00", " ", "\u00e9", "\uff10", "..",
    *(t.spelling for t in ResourceType),
]


def assembled(fdp: atheris.FuzzedDataProvider) -> str:
    parts = []
    for _ in range(fdp.ConsumeIntInRange(0, 9)):
        if fdp.ConsumeIntInRange(0, 9) == 0:
            parts.append(fdp.ConsumeUnicode(3))
        else:
            parts.append(fdp.PickValueInList(WORDS))
    return "".join(parts)


def check(text: str) -> None:
    try:
        p = parse_permission(text)
    except InvalidArgument as err:
        assert err.reason == "INVALID_PERMISSION", err.reason
        assert err.field == "permission", err.field
        assert len(err.message) <= MAX_MESSAGE, len(err.message)
        return
    for value in (p.org_id, p.id):
        assert value == "" or is_valid_id(value), (text, p)
    assert format_permission(p) == text, (text, p)
    assert parse_permission(format_permission(p)) == p, (text, p)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    """First byte even: the rest is the text (UTF-8; undecodable bytes become
    lone surrogates), so seeds are readable permissions. Odd: assembled."""
    if SELF_CHECK and data[:1] == b"!":
        raise RuntimeError("self-check: the runner must report this")
    if not data or data[0] % 2 == 0:
        check(data[1:].decode("utf-8", "surrogateescape"))
    else:
        check(assembled(atheris.FuzzedDataProvider(data[1:])))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
