"""The App: what every use case is handed (store, clock, access index, settings,
audit trail)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.domain.ids import new_id
from service.domain.tokens import TokenKind, new_token
from service.settings import Settings
from service.store.database import Store

from .access import AccessIndex
from .audit import Auditor
from .clock import Clock
from .passwords import BoundedHasher


@dataclass
class App:
    store: Store
    clock: Clock
    access: AccessIndex
    settings: Settings
    hasher: BoundedHasher = field(default_factory=BoundedHasher)
    # Records nothing unless given a sink (build_app does, from --audit-log).
    audit: Auditor = field(default_factory=Auditor)
    # service.tracing.Tracing when traces are on (--otel / OTEL_TRACES_EXPORTER).
    tracing: Any = None

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A store write; once it commits, this process's decisions see it."""
        with self.store.write():
            yield
        self.access.written()

    def new_id(self) -> str:
        return new_id(secrets.token_bytes)

    def new_token(self, kind: TokenKind = TokenKind.API) -> str:
        return new_token(kind, secrets.randbelow)


class Host(Protocol):
    """What a co-served part (the HTTP API, the sibling-worker socket) attaches
    to: the server's App, and tasks run on its loop from start to stop. The
    server (service/server.py) is one; the parts do not import it."""

    app: App

    def add_task(
        self, run: Callable[[], Awaitable[Any]], *, on_stop: Callable[[], None] | None = None
    ) -> None: ...
