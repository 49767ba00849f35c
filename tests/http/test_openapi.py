"""GET /api/v2/openapi.json is a valid OpenAPI 3 document of every endpoint."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from service.http.app import ENDPOINTS
from tests.conftest import sqlite_only
from tests.http.conftest import Http


@sqlite_only
def test_the_openapi_document_is_valid_and_complete(http: Http) -> None:
    with http.client() as c:
        r = c.get("/api/v2/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    spec = r.json()
    validate(spec)  # raises on an invalid document
    assert spec["openapi"].startswith("3.")
    served = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    wanted = {(ep.method, ep.path) for ep in ENDPOINTS}
    wanted |= {("GET", "/ping"), ("HEAD", "/ping"), ("GET", "/ready"),
               ("GET", "/api/v2/openapi.json")}
    assert served == wanted
    for ep in ENDPOINTS:
        op = spec["paths"][ep.path][ep.method.lower()]
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert params == set(re.findall(r"{(\w+)}", ep.path))
        assert "400" in op["responses"] and "401" in op["responses"]
    auth = spec["components"]["schemas"]["Authorization"]["properties"]
    assert {"orgID", "userID", "createdAt", "kind", "tokenHint", "expiresAt",
            "lastUsedAt"} <= set(auth)
