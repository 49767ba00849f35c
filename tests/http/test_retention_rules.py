"""Bucket retentionRules round-trip through the HTTP API (issue 13): stored with
the bucket, returned by later reads, replaced by a PATCH that sends them."""

from __future__ import annotations

import httpx

from tests.conftest import Admin


def test_retention_rules_are_stored_and_returned(api: httpx.Client, admin: Admin) -> None:
    rules = [{"type": "expire", "everySeconds": 3600}]
    created = api.post("/api/v2/buckets", json={
        "orgID": admin.org_id, "name": "kept", "retentionRules": rules, "rp": "autogen"})
    assert created.status_code == 201, created.text
    bucket_id = created.json()["id"]
    assert created.json()["retentionRules"] == rules
    assert api.get(f"/api/v2/buckets/{bucket_id}").json()["retentionRules"] == rules
    listed = api.get("/api/v2/buckets", params={"name": "kept"}).json()["buckets"]
    assert [b["retentionRules"] for b in listed] == [rules]

    # A PATCH without them keeps them; with them, replaces them.
    assert api.patch(f"/api/v2/buckets/{bucket_id}",
                     json={"description": "d"}).json()["retentionRules"] == rules
    longer = [{"type": "expire", "everySeconds": 86400}]
    patched = api.patch(f"/api/v2/buckets/{bucket_id}", json={"retentionRules": longer})
    assert patched.status_code == 200, patched.text
    assert api.get(f"/api/v2/buckets/{bucket_id}").json()["retentionRules"] == longer
    assert api.get(f"/api/v2/buckets/{bucket_id}").json()["description"] == "d"

    bad = api.patch(f"/api/v2/buckets/{bucket_id}",
                    json={"retentionRules": [{"everySeconds": -1}]})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "retentionRules[0].everySeconds" in bad.json()["message"]
