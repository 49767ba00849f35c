"""Finding records named by id or by name in a request, with the right errors."""

from __future__ import annotations

from collections.abc import Callable

from service.domain.errors import InvalidArgument, NotFound
from service.domain.ids import check_id
from service.domain.models import Bucket, Organization, User
from service.store.database import Store


def org_not_found(key: str) -> NotFound:
    return NotFound(
        f"organization {key!r} not found", reason="ORGANIZATION_NOT_FOUND", metadata={"id": key}
    )


def user_not_found(key: str) -> NotFound:
    return NotFound(f"user {key!r} not found", reason="USER_NOT_FOUND", metadata={"id": key})


def bucket_not_found(key: str) -> NotFound:
    return NotFound(f"bucket {key!r} not found", reason="BUCKET_NOT_FOUND", metadata={"id": key})


def auth_not_found(key: str) -> NotFound:
    return NotFound(
        f"authorization {key!r} not found",
        reason="AUTHORIZATION_NOT_FOUND",
        metadata={"id": key},
    )


def _missing_org(org_id: str, org: str) -> NotFound:
    if org_id:
        return org_not_found(org_id)
    return NotFound(
        f"organization {org[:256]!r} not found",
        reason="ORGANIZATION_NOT_FOUND",
        metadata={"name": org[:256]},
    )


def _missing_user(user_id: str, user: str) -> NotFound:
    if user_id:
        return user_not_found(user_id)
    return NotFound(
        f"user {user[:256]!r} not found", reason="USER_NOT_FOUND", metadata={"name": user[:256]}
    )


def org_ref(
    store: Store,
    org_id: str,
    org: str,
    *,
    required: bool = True,
    visible: Callable[[str], bool] | None = None,
) -> Organization | None:
    """The org named by `org_id` or `org` (exactly one); NOT_FOUND if missing, and
    the very same NOT_FOUND when `visible(id)` says the caller may not learn that
    it exists (SPEC §4: existence does not leak)."""
    if org_id and org:
        raise InvalidArgument("org", "give org_id or org, not both")
    if not org_id and not org:
        if required:
            raise InvalidArgument("org_id", "an organization is required (org_id or org)")
        return None
    if org_id:
        check_id("org_id", org_id)
    found = store.get_org(org_id) if org_id else store.get_org_by_name(org)
    if found is None or (visible is not None and not visible(found.id)):
        raise _missing_org(org_id, org)
    return found


def user_ref(
    store: Store, user_id: str, user: str, *, visible: Callable[[str], bool] | None = None
) -> User | None:
    """The user named by `user_id` or `user`, or None when neither is given;
    NOT_FOUND (the same for missing and invisible) otherwise."""
    if user_id and user:
        raise InvalidArgument("user", "give user_id or user, not both")
    if not user_id and not user:
        return None
    if user_id:
        check_id("user_id", user_id)
    found = store.get_user(user_id) if user_id else store.get_user_by_name(user)
    if found is None or (visible is not None and not visible(found.id)):
        raise _missing_user(user_id, user)
    return found


def get_bucket(store: Store, bucket_id: str) -> Bucket:
    check_id("id", bucket_id)
    found = store.get_bucket(bucket_id)
    if found is None:
        raise bucket_not_found(bucket_id)
    return found
