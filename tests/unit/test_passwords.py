"""BoundedHasher: at most N hashes at once, so sign-ins cannot take every core."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from service.app.passwords import BoundedHasher


class _Recording(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def hash(self, password, *, salt=None) -> str:  # type: ignore[no-untyped-def, override]
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        return super().hash(password)


def test_at_most_one_hash_at_a_time_by_default() -> None:
    inner = _Recording()
    hasher = BoundedHasher(inner)
    with ThreadPoolExecutor(6) as pool:
        hashes = list(pool.map(hasher.hash, [f"password-{i}" for i in range(6)]))
    assert inner.most == 1
    assert all(hasher.verify(h, f"password-{i}") for i, h in enumerate(hashes))


def test_concurrency_is_configurable() -> None:
    inner = _Recording()
    hasher = BoundedHasher(inner, concurrency=3)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(hasher.hash, ["p" * 8] * 12))
    assert 1 < inner.most <= 3


def test_calls_beyond_max_in_progress_are_refused_at_once() -> None:
    """A flood of sign-ins cannot hold every RPC thread: past the cap, a call is
    RESOURCE_EXHAUSTED without waiting."""
    from service.domain.errors import LimitExceeded

    inner = _Recording()
    hasher = BoundedHasher(inner, concurrency=1, max_in_progress=2)

    def attempt(i: int) -> str:
        try:
            hasher.hash(f"password-{i}")
            return "ok"
        except LimitExceeded as err:
            assert err.code.value == "RESOURCE_EXHAUSTED"
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert outcomes.count("refused") >= 1
    assert outcomes.count("ok") >= 2
    assert inner.most == 1
