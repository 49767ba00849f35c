"""The one error the CLI reports: a line naming what went wrong and what to do."""

from __future__ import annotations


class CliError(Exception):
    """Printed as `error: <message>` on stderr; the command exits 1."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # the gRPC status name when the server refused a call
