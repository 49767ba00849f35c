"""Password hashing that cannot starve CheckAccess.

argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, t=3,
p=4), above OWASP's minimum. argon2-cffi releases the GIL while it hashes, so
decisions keep running in other threads, but a hash takes CPU: on a small
machine a burst of sign-ins could take every core. At most `concurrency`
hashes run at once (one by default); further sign-ins wait their turn, and at
most `max_in_progress` RPC threads may be busy with passwords (hashing or
waiting): beyond that a call is refused with RESOURCE_EXHAUSTED at once, so a
flood of sign-ins can never hold every thread that CheckAccess needs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error

from service.domain.errors import LimitExceeded


class BoundedHasher:
    """A PasswordHasher with a cap on hashes in progress."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        concurrency: int = 1,
        max_in_progress: int = 12,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._in_progress = threading.BoundedSemaphore(max(concurrency, max_in_progress))
        self._dummy: str | None = None

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._in_progress.acquire(blocking=False):
            raise LimitExceeded("too many password checks in progress; retry shortly")
        try:
            with self._slots:
                yield
        finally:
            self._in_progress.release()

    def hash(self, password: str) -> str:
        with self._turn():
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._turn():
            return self._hasher.verify(password_hash, password)

    def spend_like_verify(self, password: str) -> None:
        """Cost what a verification costs, for an account that does not exist, so
        timing does not tell. The hash is this hasher's own (same parameters)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("authzd-timing-equaliser")
        with self._turn(), contextlib.suppress(Argon2Error):
            self._hasher.verify(self._dummy, password)
