"""Password hashing that cannot starve CheckAccess.

argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, t=3,
p=4), above OWASP's minimum. argon2-cffi releases the GIL while it hashes, so
decisions keep running in other threads, but a hash takes CPU: on a small
machine a burst of sign-ins could take every core. At most `concurrency`
hashes run at once (one by default); further sign-ins wait their turn.
"""

from __future__ import annotations

import contextlib
import threading

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error


class BoundedHasher:
    """A PasswordHasher with a cap on hashes in progress."""

    def __init__(self, hasher: PasswordHasher | None = None, concurrency: int = 1) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._slots:
            return self._hasher.verify(password_hash, password)

    def spend_like_verify(self, password: str) -> None:
        """Cost what a verification costs, for an account that does not exist, so
        timing does not tell. The hash is this hasher's own (same parameters)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("authzd-timing-equaliser")
        with self._slots, contextlib.suppress(Argon2Error):
            self._hasher.verify(self._dummy, password)
