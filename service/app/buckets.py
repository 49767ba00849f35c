"""Bucket use cases (SPEC §4)."""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.ids import check_id
from service.domain.models import Bucket, RetentionRule
from service.domain.permissions import Action, Permission, ResourceType

from .caller import Caller
from .context import App
from .resolve import bucket_not_found, get_bucket, org_not_found, org_ref
from .validate import (
    check_description,
    check_name,
    collect_page,
    page_request,
    update_paths,
    updated,
)

BUCKETS = ResourceType.BUCKETS


def _bucket_perm(action: Action, org_id: str, bucket_id: str = "") -> Permission:
    return Permission(action, BUCKETS, org_id=org_id, id=bucket_id)


def create(
    app: App,
    caller: Caller,
    org_id: str,
    org: str,
    name: str,
    description: str,
    retention_rules: Sequence[RetentionRule] = (),
) -> Bucket:
    name = check_name("name", name)
    check_description("description", description)
    found = org_ref(app.store, org_id, org, visible=caller.sees_org)
    assert found is not None
    caller.require(_bucket_perm(Action.WRITE, found.id))
    now = app.clock.now()
    bucket = Bucket(
        app.new_id(), found.id, found.name, name, description, now, now, tuple(retention_rules)
    )
    with app.write():
        if app.store.get_org(found.id) is None:  # deleted meanwhile
            raise org_not_found(found.id)
        return app.store.create_bucket(bucket)


def _visible(app: App, caller: Caller, bucket_id: str, action: Action) -> Bucket:
    bucket = get_bucket(app.store, bucket_id)
    if not caller.holds(_bucket_perm(Action.READ, bucket.org_id, bucket.id)):
        raise bucket_not_found(bucket_id)
    if action is Action.WRITE:
        caller.require(_bucket_perm(Action.WRITE, bucket.org_id, bucket.id))
    return bucket


def get(app: App, caller: Caller, bucket_id: str) -> Bucket:
    return _visible(app, caller, bucket_id, Action.READ)


def list_(
    app: App,
    caller: Caller,
    org_id: str,
    org: str,
    page_size: int,
    page_token: str,
    name: str = "",
) -> tuple[list[Bucket], str]:
    req = page_request("buckets", page_size, page_token)
    found = org_ref(app.store, org_id, org, required=False, visible=caller.sees_org)
    only_org = found.id if found else ""
    return collect_page(
        req,
        lambda page: app.store.list_buckets(page, only_org, name),
        lambda b: caller.holds(_bucket_perm(Action.READ, b.org_id, b.id)),
    )


def update(
    app: App,
    caller: Caller,
    bucket_id: str,
    paths: Sequence[str],
    name: str,
    description: str,
    retention_rules: Sequence[RetentionRule] | None = None,
) -> Bucket:
    """AIP-134 over name, description and (HTTP API only) retention_rules."""
    check_id("bucket.id", bucket_id)  # name the request's field, not GetBucket's "id"
    # retention_rules is updatable only where the transport has it (HTTP).
    extra = {} if retention_rules is None else {"retention_rules": True}
    chosen = update_paths(paths, name=bool(name), description=bool(description), **extra)
    new_name = check_name("bucket.name", name) if "name" in chosen else None
    if "description" in chosen:
        check_description("bucket.description", description)
    with app.write():
        bucket = _visible(app, caller, bucket_id, Action.WRITE)
        return app.store.update_bucket(updated(
            bucket, chosen, app.clock.now(), name=new_name, description=description,
            retention_rules=tuple(retention_rules or ())))


def delete(app: App, caller: Caller, bucket_id: str) -> None:
    with app.write():
        _visible(app, caller, bucket_id, Action.WRITE)
        app.store.delete_bucket(bucket_id)
