"""GetConfig (SPEC §4): the effective configuration, for Operator tokens only."""

from __future__ import annotations

from service import __version__
from service.domain.permissions import Action, Permission, ResourceType

from .caller import Caller
from .context import App


def get_config(app: App, caller: Caller) -> tuple[dict[str, str], str]:
    caller.require(Permission(Action.READ, ResourceType.INSTANCE))
    return app.settings.redacted(), __version__
