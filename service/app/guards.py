"""The instance keeps a way in (SPEC §4): never remove the last usable
authorization that holds write:instance."""

from __future__ import annotations

from collections.abc import Callable

from service.domain.errors import FailedPrecondition

from .context import App


def ensure_instance_kept(app: App, removed: Callable[[tuple[str, str, str]], bool]) -> None:
    """Call inside the write transaction, before the change. `removed` says, for an
    (authorization id, user id, org id) of a usable write:instance token, whether
    the change takes it away. If it takes all of them: FAILED_PRECONDITION."""
    writers = app.store.active_instance_writers(app.clock.now())
    if writers and all(removed(w) for w in writers):
        raise FailedPrecondition(
            "this would remove the last active token holding write:instance; "
            "create another Operator token first (or use `authzd recovery`)",
            reason="LAST_OPERATOR",
        )
