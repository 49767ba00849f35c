"""The instance keeps a way in (SPEC §4): never remove the last usable
authorization that holds write:instance."""

from __future__ import annotations

from collections.abc import Callable

from service.domain.errors import FailedPrecondition
from service.store.codec import InstanceWriter

from .context import App


def ensure_instance_kept(app: App, removed: Callable[[InstanceWriter], bool]) -> None:
    """Call inside the write transaction, before the change. `removed` says, for
    each token that keeps the instance a way in, whether the change takes it
    away. If it takes all of them: FAILED_PRECONDITION."""
    writers = app.store.active_instance_writers()
    if writers and all(removed(w) for w in writers):
        raise FailedPrecondition(
            "this would remove the last active token holding write:instance; "
            "create another Operator token first (or use `authzd recovery`)",
            reason="LAST_OPERATOR",
        )
