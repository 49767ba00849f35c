"""Asking a person at a terminal; never asking a script."""

from __future__ import annotations

import getpass
import sys

from .errors import CliError

ATTEMPTS = 3


def interactive() -> bool:
    return sys.stdin.isatty()


def ask(label: str, default: str = "") -> str:
    suffix = f" [{default}]" if default else ""
    for _ in range(ATTEMPTS):
        try:
            answer = input(f"{label}{suffix}: ").strip() or default
        except EOFError:
            raise CliError(f"no answer for {label.lower()}") from None
        if answer:
            return answer
        sys.stderr.write(f"{label} must not be empty.\n")
    raise CliError(f"no {label.lower()} given")


def ask_password(label: str = "Password", *, confirm: bool = True, minimum: int = 8) -> str:
    """A password read without echo; asked twice when `confirm`."""
    for _ in range(ATTEMPTS):
        try:
            first = getpass.getpass(f"{label}: ")
            if len(first) < minimum:
                sys.stderr.write(f"{label} must be at least {minimum} characters.\n")
                continue
            if confirm and getpass.getpass(f"Confirm {label.lower()}: ") != first:
                sys.stderr.write("The passwords do not match.\n")
                continue
        except EOFError:
            raise CliError(f"no {label.lower()} given") from None
        return first
    raise CliError(f"no {label.lower()} given after {ATTEMPTS} attempts")


# `--password` given without a value: ask for it on the terminal.
ASK = "\0ask"
STDIN_HELP = ("read the password from the first line of stdin (for scripts: "
              "`printf '%s\\n' \"$PW\" | authzd ...`), not from the command line")


def add_password_flags(p: object, flag: str = "--password", what: str = "the password",
                       extra: str = "") -> None:
    """`--password [VALUE]` (no value: asked without echo) and `--password-stdin`."""
    g = p.add_mutually_exclusive_group()  # type: ignore[attr-defined]
    g.add_argument(flag, nargs="?", const=ASK, metavar="VALUE",
                   help=f"{what}, 8 to 256 characters; without VALUE it is asked without echo "
                        f"(a value on the command line is seen by other local users){extra}")
    g.add_argument("--password-stdin", action="store_true", help=STDIN_HELP)


def stdin_lines(count: int = 1) -> list[str]:
    """`--password-stdin`: the first `count` lines of stdin, newline removed."""
    lines = []
    for _ in range(count):
        line = sys.stdin.readline()
        if not line:
            raise CliError("--password-stdin: stdin ended before a password line")
        lines.append(line.rstrip("\r\n") if line.endswith("\n") else line)
    return lines


def password(value: str | None, from_stdin: bool, *, label: str = "Password",
             flag: str = "--password") -> str | None:
    """The password a command was given: None when none was asked for."""
    if from_stdin:
        return stdin_lines(1)[0]
    if value == ASK:
        if not interactive():
            raise CliError(f"{flag} without a value asks on a terminal, and stdin is not one — "
                           "pass --password-stdin and write the password to stdin")
        return ask_password(label)
    return value
