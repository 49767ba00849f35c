"""Bucket queries (each with its organization's name)."""

from __future__ import annotations

from typing import Any

from service.domain.models import Bucket

from .codec import (
    Page,
    decode_retention_rules,
    encode_retention_rules,
    row_times,
    time_columns,
    to_micros,
)
from .engine import Engine, unique_name, unstorable
from .models import BucketRow, OrganizationRow


def _bucket(row: Any) -> Bucket:
    return Bucket(
        row.id,
        row.org_id,
        row.org_name,
        row.name,
        row.description,
        *row_times(row),
        decode_retention_rules(row.retention_rules),
    )


def _query() -> Any:
    return BucketRow.select(BucketRow, OrganizationRow.name.alias("org_name")).join(
        OrganizationRow
    )


def bucket_row(bucket: Bucket) -> dict[str, Any]:
    return dict(
        id=bucket.id,
        org=bucket.org_id,
        name=bucket.name,
        description=bucket.description,
        **time_columns(bucket),
        retention_rules=encode_retention_rules(bucket.retention_rules),
    )


class BucketQueries(Engine):
    def create_bucket(self, bucket: Bucket) -> Bucket:
        with unique_name("bucket", bucket.name, org_id=bucket.org_id):
            BucketRow.create(**bucket_row(bucket))
        return bucket

    def get_bucket(self, bucket_id: str) -> Bucket | None:
        row = _query().where(BucketRow.id == bucket_id).objects().first()
        return _bucket(row) if row else None

    def list_buckets(self, page: Page, org_id: str = "", name: str = "") -> list[Bucket]:
        if unstorable(name):
            return []
        q = _query().where(BucketRow.id > page.after)
        if org_id:
            q = q.where(BucketRow.org == org_id)
        if name:
            q = q.where(BucketRow.name == name)
        return [_bucket(r) for r in q.order_by(BucketRow.id).limit(page.limit).objects()]

    def update_bucket(self, bucket: Bucket) -> Bucket:
        with unique_name("bucket", bucket.name, org_id=bucket.org_id):
            BucketRow.update(
                name=bucket.name,
                description=bucket.description,
                update_time=to_micros(bucket.update_time),
                retention_rules=encode_retention_rules(bucket.retention_rules),
            ).where(BucketRow.id == bucket.id).execute()
        return bucket

    def delete_bucket(self, bucket_id: str) -> None:
        BucketRow.delete().where(BucketRow.id == bucket_id).execute()
