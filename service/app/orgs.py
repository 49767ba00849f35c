"""Organization use cases (SPEC §4)."""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.ids import check_id
from service.domain.models import Organization
from service.domain.permissions import Action, Permission, ResourceType

from .caller import Caller
from .context import App
from .guards import ensure_instance_kept
from .resolve import org_not_found
from .validate import (
    check_description,
    check_name,
    collect_page,
    page_request,
    update_paths,
    updated,
)

ORGS = ResourceType.ORGS


def _org_perm(action: Action, org_id: str = "") -> Permission:
    return Permission(action, ORGS, id=org_id)


def create(app: App, caller: Caller, name: str, description: str) -> Organization:
    caller.require(_org_perm(Action.WRITE))
    name = check_name("name", name)
    check_description("description", description)
    now = app.clock.now()
    org = Organization(app.new_id(), name, description, now, now)
    with app.write():
        return app.store.create_org(org)


def _visible(app: App, caller: Caller, org_id: str, action: Action) -> Organization:
    check_id("id", org_id)
    org = app.store.get_org(org_id)
    if org is None or not caller.holds(_org_perm(Action.READ, org_id)):
        raise org_not_found(org_id)
    if action is Action.WRITE:
        caller.require(_org_perm(Action.WRITE, org_id))
    return org


def get(app: App, caller: Caller, org_id: str) -> Organization:
    return _visible(app, caller, org_id, Action.READ)


def list_(
    app: App, caller: Caller, page_size: int, page_token: str, name: str = ""
) -> tuple[list[Organization], str]:
    return collect_page(
        page_request("orgs", page_size, page_token),
        lambda page: app.store.list_orgs(page, name),
        lambda org: caller.holds(_org_perm(Action.READ, org.id)),
    )


def update(
    app: App, caller: Caller, org_id: str, paths: Sequence[str], name: str, description: str
) -> Organization:
    check_id("organization.id", org_id)  # name the request's field, not GetOrganization's
    chosen = update_paths(paths, name=bool(name), description=bool(description))
    # Input checks first, outside the transaction (as every other use case does).
    new_name = check_name("organization.name", name) if "name" in chosen else None
    if "description" in chosen:
        check_description("organization.description", description)
    with app.write():
        org = _visible(app, caller, org_id, Action.WRITE)
        return app.store.update_org(
            updated(org, chosen, app.clock.now(), name=new_name, description=description))


def delete(app: App, caller: Caller, org_id: str) -> None:
    with app.write():
        _visible(app, caller, org_id, Action.WRITE)
        ensure_instance_kept(app, lambda w: w.org_id == org_id)
        app.store.delete_org(org_id)
