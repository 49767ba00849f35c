"""Garbage to every endpoint: random JSON bodies, ids and query values, with a
valid Operator token. Nothing answers 500, and every error has InfluxDB's body."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from service.http.app import ENDPOINTS
from tests.conftest import Admin, sqlite_only

pytestmark = sqlite_only

SCALARS = (st.none() | st.booleans() | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=5),
    max_leaves=20,
)
FIELDS = ["name", "description", "status", "orgID", "org", "userID", "user", "permissions",
          "preset", "expiresAt", "password", "oldPassword", "username", "bucket", "token",
          "permission", "retentionRules", "rp", "action", "resource", "type", "id"]
# Objects with the field names the endpoints read, so garbage reaches past "not an object".
BODIES = JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
IDS = st.sampled_from(["", "0" * 16, "zz", "x" * 300, "../admin", "%00"]) | st.text(max_size=20)
QUERY = st.dictionaries(
    st.sampled_from(["limit", "offset", "after", "orgID", "org", "name", "id", "userID", "user"]),
    st.text(max_size=20), max_size=4)


def _check(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400:
        assert set(r.json()) == {"code", "message"}


# No shrinking: a failing example is printed whole, and shrinking one that
# made dozens of requests takes minutes.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_endpoint_answers_500_to_garbage(http, admin: Admin, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    with http.client(admin.token) as c:
        for ep in ENDPOINTS:
            if ep.path in ("/api/v2/setup", "/api/v2/signout") and ep.method == "POST":
                continue  # setup is done; signing out is not garbage-driven
            path = ep.path
            for name in re.findall(r"{(\w+)}", path):
                ident = data.draw(st.sampled_from([admin.org_id, admin.user_id, admin.bucket_id,
                                                   admin.authorization_id]) | IDS)
                path = path.replace("{" + name + "}", quote(ident, safe="") or "x")
            params = data.draw(QUERY) if ep.method == "GET" else {}
            if ep.method in ("GET", "DELETE"):
                if ep.method == "DELETE" and any(
                        i in path for i in (admin.org_id, admin.user_id, admin.authorization_id)):
                    continue  # deleting the admin's own things is not garbage
                r = c.request(ep.method, path, params=params)
            elif data.draw(st.booleans()):
                r = c.request(ep.method, path, json=data.draw(BODIES))
            else:
                r = c.request(ep.method, path, content=data.draw(st.binary(max_size=64)))
            _check(r)
    # The garbage changed nothing that matters: the Operator token still works.
    with http.client(admin.token) as c:
        assert c.get("/api/v2/me").status_code == 200


@pytest.mark.parametrize("depth", [10, 10_000])
def test_deeply_nested_json_is_invalid_not_a_crash(http, admin: Admin, depth: int) -> None:  # type: ignore[no-untyped-def]
    body = b"[" * depth + b"]" * depth
    with http.client(admin.token) as c:
        r = c.post("/api/v2/orgs", content=body)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"
