"""Organization and bucket names -> ids, read-only, for ext_authz rules.

Kept beside the AccessIndex and retired with it: every answer is remembered until
the index's generation moves (any write here, or another process's write seen by
the poller), so a renamed or deleted org or bucket stops resolving as soon as a
token change would. Unknown names are remembered too (a flood of writes to a
misspelt bucket costs a dictionary lookup each, not a query).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from service.store.database import Page, Store

from .access import AccessIndex


class NeedsStore(Exception):
    """A memory-only lookup (on the event loop) needs the store: ask again
    from a thread."""


class NameIndex:
    def __init__(self, store: Store, access: AccessIndex, max_names: int = 10_000) -> None:
        self._store = store
        self._access = access
        self._max = max_names
        self._lock = threading.Lock()
        self._generation = -1
        self._orgs: dict[str, str | None] = {}
        self._buckets: dict[tuple[str, str], str | None] = {}

    def _current(self) -> None:
        self._access.ensure_fresh()  # fail closed like a decision
        generation = self._access.generation
        if generation != self._generation:
            with self._lock:
                self._orgs.clear()
                self._buckets.clear()
                self._generation = generation

    def org_id(self, name: str, memory_only: bool = False) -> str | None:
        """The id of the organization named `name`, None if there is none.
        memory_only: NeedsStore instead of reading the store."""

        def load() -> str | None:
            org = self._store.get_org_by_name(name)
            return org.id if org else None

        return self._lookup(self._orgs, name, memory_only, load)

    def bucket_id(self, org_id: str, name: str, memory_only: bool = False) -> str | None:
        """The id of the bucket named `name` in org `org_id`, None if none."""

        def load() -> str | None:
            found = self._store.list_buckets(Page("", 1), org_id=org_id, name=name)
            return found[0].id if found else None

        return self._lookup(self._buckets, (org_id, name), memory_only, load)

    def _lookup(
        self, table: dict[Any, str | None], key: object, memory_only: bool,
        load: Callable[[], str | None],
    ) -> str | None:
        """The kept answer for `key`, else (unless memory_only: NeedsStore) the
        store's, kept unless a write came in meanwhile."""
        self._current()
        try:
            return table[key]
        except KeyError:
            if memory_only:
                raise NeedsStore() from None
        generation = self._generation
        with self._store.read():
            found = load()
        self._keep(table, key, found, generation)
        return found

    def _keep(
        self, table: dict[Any, str | None], key: object, value: str | None, generation: int
    ) -> None:
        with self._lock:
            if generation != self._generation or self._access.generation != generation:
                return  # a write happened meanwhile: do not keep a possibly old answer
            if len(table) >= self._max:
                table.clear()
            table[key] = value
