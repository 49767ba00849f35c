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
