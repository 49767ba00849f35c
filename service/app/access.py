"""The CheckAccess hot path: token digest -> compiled Grant, in memory.

Every decision is a dictionary lookup plus PermissionSet.first_match. A miss
loads one row from the store and compiles it (a few hundred microseconds).

Staleness: every write bumps the store's revision in its own transaction. The
process that wrote calls `invalidate()` once the transaction committed, so its
very next check sees the change; other processes see it when their poller reads
a new revision (every `poll_interval`). If the poller cannot read the store for
longer than `stale_after`, checks fail closed with UNAVAILABLE rather than
answer from memory that may be stale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

import structlog

from service.domain.decision import Decision, Grant, decide
from service.domain.errors import StoreUnavailable
from service.domain.models import Status
from service.domain.permissions import Action, Permission, PermissionSet, ResourceType
from service.domain.tokens import TokenKind, parse_token, token_digest
from service.store.bulk import token_records
from service.store.database import Store, TokenRecord

from .clock import Clock

log = structlog.get_logger("authzd.access")


class Verdict(NamedTuple):
    decision: Decision
    valid_until: float
    used_authorization_id: str


def _compile(record: TokenRecord) -> Grant:
    return Grant(
        authorization_id=record.authorization_id,
        user_id=record.user_id,
        org_id=record.org_id,
        active=record.status == Status.ACTIVE,
        user_active=record.user_status == Status.ACTIVE,
        expire_at=record.expire_at,
        permissions=PermissionSet(record.permissions),
    )


_NEVER = float("inf")


def session_permissions(token_permissions: Iterable[Permission], user_id: str) -> list[Permission]:
    """SPEC §2: a session holds the union of the permissions of its user's
    active, unexpired tokens (the caller passes those), plus read+write
    users/<own id>, in that order."""
    own = [Permission(a, ResourceType.USERS, id=user_id) for a in Action]
    return [*token_permissions, *own]


class AccessIndex:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        cache_size: int = 200_000,
        poll_interval: float = 0.25,
        stale_after: float = 5.0,
        last_used_interval: float = 60.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_size = cache_size
        # digest -> (grant or None for "no such token", time after which to reload)
        self._cache: dict[str, tuple[Grant | None, float]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._poll_interval = poll_interval
        self._stale_after = stale_after
        self._last_used_interval = last_used_interval
        self._used: dict[str, float] = {}
        self._revision = store.revision()
        # Freshness runs on the monotonic clock, not the injected one: it is about
        # the store being reachable, not about token expiry.
        self._fresh_until = time.monotonic() + stale_after
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_health_change: Callable[[bool], None] | None = None
        # Called after this process's write is applied (tells sibling workers).
        self.on_written: Callable[[], None] | None = None
        self._healthy = True

    # -- the hot path ------------------------------------------------------

    def ensure_fresh(self) -> None:
        """Fail closed: refuse to decide from memory the store has not confirmed
        for longer than stale_after."""
        if time.monotonic() > self._fresh_until:
            raise StoreUnavailable("the store has not been readable recently; refusing to decide")

    def now(self) -> float:
        return self._clock.time()

    @property
    def generation(self) -> int:
        """Changes whenever what was decided before may no longer hold."""
        return self._generation

    def lookup(self, token: str) -> tuple[Grant | None, float]:
        """The token's compiled state (None: no such token) and the time until
        which it holds without a write (a session's union changes when one of its
        tokens expires)."""
        self.ensure_fresh()
        digest = token_digest(token)
        entry = self._cache.get(digest)
        if entry is None or self._clock.time() >= entry[1]:
            return self._load(token, digest, self._clock.time())
        return entry

    def grant(self, token: str) -> Grant | None:
        """The token's compiled state, or None if there is no such token."""
        return self.lookup(token)[0]

    def verdict(self, token: str, requested: Permission, now: float) -> Verdict:
        """The decision, how long it holds without a write (until the token
        expires, or a session's union changes), and the authorization id whose
        last_used_time a use should move ("" for sessions and unknown tokens).
        Does not record the use: callers that answer from a kept decision do."""
        return self._verdict(self.lookup(token), requested, now)

    def cached_verdict(self, token: str, requested: Permission, now: float) -> Verdict | None:
        """verdict() from memory alone, or None when the token must be read from
        the store: an event loop calls this and sends only misses to a thread."""
        self.ensure_fresh()
        digest = token_digest(token)
        entry = self._cache.get(digest)
        if entry is None or now >= entry[1]:
            if parse_token(token) is not None:
                return None
            entry = (None, _NEVER)  # malformed: decided without the store
        return self._verdict(entry, requested, now)

    @staticmethod
    def _verdict(entry: tuple[Grant | None, float], requested: Permission, now: float) -> Verdict:
        grant, valid_until = entry
        decision = decide(grant, requested, now)
        if grant is not None and grant.expire_at is not None and now < grant.expire_at:
            valid_until = min(valid_until, grant.expire_at)
        used = decision.authorization_id if grant is not None and grant.org_id else ""
        return Verdict(decision, valid_until, used)

    def check(self, token: str, requested: Permission) -> Decision:
        """Decide once and record the use (in-process callers)."""
        now = self._clock.time()
        verdict = self.verdict(token, requested, now)
        self.note_used(verdict.used_authorization_id, now)
        return verdict.decision

    def note_used(self, authorization_id: str, now: float) -> None:
        """Remember a use for last_used_time; written by the poller, not here."""
        if authorization_id:
            self._used[authorization_id] = now

    # -- misses ------------------------------------------------------------

    def _load(self, token: str, digest: str, now: float) -> tuple[Grant | None, float]:
        kind = parse_token(token)
        if kind is None:
            return None, _NEVER  # malformed: never looked up, never cached
        generation = self._generation
        if kind is TokenKind.API:
            grant, stale_at = self._load_api(digest), _NEVER
        else:
            grant, stale_at = self._load_session(digest, now)
        with self._lock:
            if generation == self._generation:
                if len(self._cache) >= self._cache_size:
                    # FIFO eviction: cheap, and a hit needs no bookkeeping.
                    self._cache.pop(next(iter(self._cache)))
                self._cache[digest] = (grant, stale_at)
        return grant, stale_at

    def _load_api(self, digest: str) -> Grant | None:
        record = self._store.token_record(digest)
        return None if record is None else _compile(record)

    def preload(self, limit: int | None = None) -> int:
        """Compile up to `limit` (default: the cache size) API tokens at start, so
        the first checks after a restart are hits. Returns how many."""
        generation = self._generation
        loaded = {
            digest: (_compile(record), _NEVER)
            for digest, record in token_records(self._store, limit or self._cache_size)
        }
        with self._lock:
            if generation == self._generation:
                self._cache.update(loaded)
        return len(loaded)

    def _load_session(self, digest: str, now: float) -> tuple[Grant | None, float]:
        record = self._store.session_record(digest)
        if record is None:
            return None, _NEVER
        permissions, soonest = self._store.user_permissions(record.user_id, self._clock.now())
        grant = Grant(
            authorization_id=record.session_id,
            user_id=record.user_id,
            org_id="",
            active=True,
            user_active=record.user_status == Status.ACTIVE,
            expire_at=record.expire_at,
            permissions=PermissionSet(session_permissions(permissions, record.user_id)),
        )
        # The union changes when one of its tokens expires: reload then.
        return grant, _NEVER if soonest is None else soonest

    # -- invalidation ------------------------------------------------------

    def invalidate(self) -> None:
        """Forget everything; called when another process's write is noticed."""
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def written(self) -> None:
        """This process's write committed: forget everything now, and note the
        revision read *before* forgetting, so the poller does not forget it all
        again for our own write (a write committed after that read still differs
        from the noted revision and is picked up)."""
        try:
            revision = self._store.revision()
        except StoreUnavailable:
            revision = None
        self.invalidate()
        if revision is not None:
            self._revision = revision
        if self.on_written is not None:
            self.on_written()

    def poll_once(self) -> None:
        """Read the store's revision; invalidate on change; keep freshness."""
        try:
            revision = self._store.revision()
        except StoreUnavailable:
            self._set_healthy(False)
            return
        if revision != self._revision:
            self._revision = revision
            self.invalidate()
        self._fresh_until = time.monotonic() + self._stale_after
        self._set_healthy(True)

    def _set_healthy(self, healthy: bool) -> None:
        if healthy != self._healthy:
            self._healthy = healthy
            log.warning("store_health_changed", healthy=healthy)
            if self.on_health_change:
                self.on_health_change(healthy)

    def flush_last_used(self) -> None:
        used, self._used = self._used, {}
        if used:
            try:
                self._store.touch_last_used(used)
            except Exception:  # bookkeeping never breaks the service
                log.warning("last_used_flush_failed", count=len(used))

    def housekeeping(self) -> None:
        """Once a minute, in the poller thread: write last_used_time, and delete
        expired sessions (nothing else ever would; an expired session is refused
        either way, TOKEN_EXPIRED before and TOKEN_UNKNOWN after)."""
        self.flush_last_used()
        now = self._clock.now()
        try:
            self._store.delete_expired_sessions(now)
            # Names with no account that stopped failing an hour ago (throttle.py).
            t = now.timestamp()
            self._store.purge_name_throttles(t - 3600, t)
        except Exception:  # bookkeeping never breaks the service
            log.warning("expired_session_purge_failed")

    def start(self) -> None:
        """Confirm freshness now (a long preload may have used up the bound), then
        keep confirming it in the background."""
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="authzd-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.flush_last_used()

    def wake(self) -> None:
        """Poll now (a change notification arrived) instead of at the next tick."""
        self._wake.set()

    def _run(self) -> None:
        next_flush = self._clock.time() + self._last_used_interval
        while not self._stop.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.poll_once()
            if self._clock.time() >= next_flush:
                next_flush = self._clock.time() + self._last_used_interval
                self.housekeeping()

