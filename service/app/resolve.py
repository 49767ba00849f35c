"""Finding records named by id or by name in a request, with the right errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from service.domain.errors import InvalidArgument, NotFound
from service.domain.ids import check_id
from service.domain.models import Bucket, Organization, User
from service.store.database import Store

T = TypeVar("T")


def _not_found(kind: str, reason: str, key: str, by: str = "id") -> NotFound:
    """The one shape of "not found" (and of "not visible": SPEC §4): names only
    the key the caller gave, bounded."""
    key = key[:256]
    return NotFound(f"{kind} {key!r} not found", reason=reason, metadata={by: key})


def org_not_found(key: str, by: str = "id") -> NotFound:
    return _not_found("organization", "ORGANIZATION_NOT_FOUND", key, by)


def user_not_found(key: str, by: str = "id") -> NotFound:
    return _not_found("user", "USER_NOT_FOUND", key, by)


def bucket_not_found(key: str) -> NotFound:
    return _not_found("bucket", "BUCKET_NOT_FOUND", key)


def auth_not_found(key: str) -> NotFound:
    return _not_found("authorization", "AUTHORIZATION_NOT_FOUND", key)


def _ref(
    field: str,
    key_id: str,
    key_name: str,
    by_id: Callable[[str], T | None],
    by_name: Callable[[str], T | None],
    missing: Callable[[str, str], NotFound],
    visible: Callable[[T], bool] | None,
) -> T | None:
    """The record named by `<field>_id` or `<field>` (at most one of them), None
    when neither is given; NOT_FOUND when missing, and the very same NOT_FOUND
    when `visible` says the caller may not learn that it exists."""
    if key_id and key_name:
        raise InvalidArgument(field, f"give {field}_id or {field}, not both")
    if not key_id and not key_name:
        return None
    if key_id:
        check_id(f"{field}_id", key_id)
    found = by_id(key_id) if key_id else by_name(key_name)
    if found is None or (visible is not None and not visible(found)):
        raise missing(key_id, "id") if key_id else missing(key_name, "name")
    return found


def org_ref(
    store: Store,
    org_id: str,
    org: str,
    *,
    required: bool = True,
    visible: Callable[[str], bool] | None = None,
) -> Organization | None:
    """The org named by `org_id` or `org` (see _ref); `visible` takes its id."""
    found = _ref(
        "org", org_id, org, store.get_org, store.get_org_by_name, org_not_found,
        None if visible is None else (lambda o: visible(o.id)),
    )
    if found is None and required:
        raise InvalidArgument("org_id", "an organization is required (org_id or org)")
    return found


def user_ref(
    store: Store, user_id: str, user: str, *, visible: Callable[[str], bool] | None = None
) -> User | None:
    """The user named by `user_id` or `user` (see _ref); `visible` takes its id."""
    return _ref(
        "user", user_id, user, store.get_user, store.get_user_by_name, user_not_found,
        None if visible is None else (lambda u: visible(u.id)),
    )


def org_named(store: Store, name: str) -> Organization:
    """Recovery's lookup by name (no caller, so nothing is invisible)."""
    found = store.get_org_by_name(name)
    if found is None:
        raise org_not_found(name, "name")
    return found


def user_named(store: Store, name: str) -> User:
    found = store.get_user_by_name(name)
    if found is None:
        raise user_not_found(name, "name")
    return found


def get_bucket(store: Store, bucket_id: str) -> Bucket:
    check_id("id", bucket_id)
    found = store.get_bucket(bucket_id)
    if found is None:
        raise bucket_not_found(bucket_id)
    return found
