"""Organization queries."""

from __future__ import annotations

from typing import Any

from service.domain.models import Organization

from .codec import Page, row_times, time_columns, to_micros
from .engine import Engine, unique_name, unstorable
from .models import AuthorizationRow, BucketRow, OrganizationRow, UserRow


def _org(row: OrganizationRow) -> Organization:
    return Organization(
        row.id, row.name, row.description, *row_times(row))


def org_row(org: Organization) -> dict[str, Any]:
    return dict(
        id=org.id,
        name=org.name,
        description=org.description,
        **time_columns(org),
    )


class OrgQueries(Engine):
    def create_org(self, org: Organization) -> Organization:
        with unique_name("organization", org.name):
            OrganizationRow.create(**org_row(org))
        return org

    def get_org(self, org_id: str) -> Organization | None:
        row = OrganizationRow.get_or_none(OrganizationRow.id == org_id)
        return _org(row) if row else None

    def get_org_by_name(self, name: str) -> Organization | None:
        if unstorable(name):
            return None
        row = OrganizationRow.get_or_none(OrganizationRow.name == name)
        return _org(row) if row else None

    def list_orgs(self, page: Page, name: str = "") -> list[Organization]:
        if unstorable(name):
            return []
        q = OrganizationRow.select().where(OrganizationRow.id > page.after)
        if name:
            q = q.where(OrganizationRow.name == name)
        return [_org(r) for r in q.order_by(OrganizationRow.id).limit(page.limit)]

    def update_org(self, org: Organization) -> Organization:
        with unique_name("organization", org.name):
            OrganizationRow.update(
                name=org.name,
                description=org.description,
                update_time=to_micros(org.update_time),
            ).where(OrganizationRow.id == org.id).execute()
        return org

    def delete_org(self, org_id: str) -> None:
        # Explicit, not only ON DELETE CASCADE: the same on every backend.
        AuthorizationRow.delete().where(AuthorizationRow.org == org_id).execute()
        BucketRow.delete().where(BucketRow.org == org_id).execute()
        OrganizationRow.delete().where(OrganizationRow.id == org_id).execute()

    def setup_allowed(self) -> bool:
        return not (UserRow.select().exists() or OrganizationRow.select().exists())
