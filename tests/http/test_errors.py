"""Every error status of the HTTP API through plain HTTP (httpx), one table row
per case: the status, InfluxDB's body `{"code", "message"}` and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.app import orgs
from service.domain.errors import LimitExceeded, StoreUnavailable
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, sqlite_only
from tests.http.conftest import Http

pytestmark = sqlite_only  # the mapping is the transport's; the store does not matter


@dataclass
class World:
    http: Http
    admin: Admin
    api: httpx.Client
    reader: str  # a token that may only read the first bucket


@pytest.fixture
def world(http: Http, admin: Admin, api: httpx.Client) -> World:
    r = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id,
        "permissions": [{"action": "read", "resource": {
            "type": "buckets", "orgID": admin.org_id, "id": admin.bucket_id}}],
    })
    assert r.status_code == 201, r.text
    return World(http, admin, api, r.json()["token"])


def _send(w: World, method: str, path: str, token: str | None = "admin",
          **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token == "admin":
        token = w.admin.token
    elif token == "reader":
        token = w.reader
    if token:
        headers["Authorization"] = f"Token {token}"
    with w.http.client() as c:
        return c.request(method, path, headers=headers, **kwargs)


def _signed_in_cookie(w: World) -> str:
    r = _send(w, "POST", "/api/v2/signin", token=None, auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert r.status_code == 204
    return r.headers["set-cookie"].split(";")[0]


Case = tuple[str, Callable[[World], httpx.Response], int, str, str]

CASES: list[Case] = [
    # 400 invalid: the message starts with the JSON field
    ("malformed JSON", lambda w: _send(w, "POST", "/api/v2/orgs", content=b'{"name": '),
     400, "invalid", "body: is not valid JSON"),
    ("not an object", lambda w: _send(w, "POST", "/api/v2/orgs", json=[1]),
     400, "invalid", "body: must be a JSON object"),
    ("wrong type", lambda w: _send(w, "POST", "/api/v2/orgs", json={"name": 5}),
     400, "invalid", "name: must be a string"),
    ("empty name", lambda w: _send(w, "POST", "/api/v2/orgs", json={"name": ""}),
     400, "invalid", "name: must not be empty"),
    ("unknown permission type", lambda w: _send(w, "POST", "/api/v2/authorizations", json={
        "orgID": w.admin.org_id, "permissions": [{"action": "read", "resource": {"type": "x"}}]}),
     400, "invalid", "permissions[0].resource.type: is not a known resource type"),
    ("bad permission action", lambda w: _send(w, "POST", "/api/v2/authorizations", json={
        "orgID": w.admin.org_id,
        "permissions": [{"action": "own", "resource": {"type": "buckets"}}]}),
     400, "invalid", 'permissions[0].action: must be "read" or "write"'),
    ("bad id in a permission", lambda w: _send(w, "POST", "/api/v2/authorizations", json={
        "orgID": w.admin.org_id,
        "permissions": [{"action": "read", "resource": {"type": "buckets", "id": "xyz"}}]}),
     400, "invalid", "permissions[0].resource.id: 'xyz' is not an id"),
    ("bad orgID", lambda w: _send(w, "POST", "/api/v2/buckets", json={"orgID": "nope",
                                                                       "name": "b"}),
     400, "invalid", "orgID: 'nope' is not an id"),
    ("bad path id", lambda w: _send(w, "GET", "/api/v2/buckets/NOT-AN-ID"),
     400, "invalid", "bucketID: 'NOT-AN-ID' is not an id"),
    ("bad limit", lambda w: _send(w, "GET", "/api/v2/buckets", params={"limit": "lots"}),
     400, "invalid", "limit: must be an integer"),
    ("bad expiresAt", lambda w: _send(w, "POST", "/api/v2/authorizations", json={
        "orgID": w.admin.org_id, "preset": "all-access", "expiresAt": "tomorrow"}),
     400, "invalid", "expiresAt: must be an RFC 3339 time"),
    ("past expiresAt", lambda w: _send(w, "POST", "/api/v2/authorizations", json={
        "orgID": w.admin.org_id, "preset": "all-access", "expiresAt": "2001-01-01T00:00:00Z"}),
     400, "invalid", "expiresAt: must be in the future"),
    ("bad status", lambda w: _send(w, "PATCH", f"/api/v2/authorizations/{w.admin.authorization_id}",
                                   json={"status": "paused"}),
     400, "invalid", 'status: must be "active" or "inactive"'),
    ("nothing to update", lambda w: _send(w, "PATCH", f"/api/v2/orgs/{w.admin.org_id}",
                                          json={"id": w.admin.org_id}),
     400, "invalid", "body: nothing to update"),
    ("short password", lambda w: _send(w, "POST", f"/api/v2/users/{w.admin.user_id}/password",
                                       json={"password": "short"}),
     400, "invalid", "password: must be 8 to 256 characters"),
    # 401 unauthorized: always the same message
    ("no credential", lambda w: _send(w, "GET", "/api/v2/orgs", token=None),
     401, "unauthorized", "unauthorized access"),
    ("unknown token", lambda w: _send(w, "GET", "/api/v2/orgs", token="azt_nope"),
     401, "unauthorized", "unauthorized access"),
    ("unknown scheme", lambda w: _send(w, "GET", "/api/v2/me", token=None,
                                       headers={"Authorization": "Digest abc"}),
     401, "unauthorized", "unauthorized access"),
    ("wrong password", lambda w: _send(w, "POST", "/api/v2/signin", token=None,
                                       auth=(ADMIN_USER, "wrong-password")),
     401, "unauthorized", "unauthorized access"),
    ("unknown user", lambda w: _send(w, "POST", "/api/v2/signin", token=None,
                                     auth=("nobody", "wrong-password")),
     401, "unauthorized", "unauthorized access"),
    ("sign out with an API token", lambda w: _send(w, "POST", "/api/v2/signout"),
     401, "unauthorized", "unauthorized access"),
    # 403 forbidden
    ("permission lacking", lambda w: _send(w, "POST", "/api/v2/orgs", token="reader",
                                           json={"name": "x"}),
     403, "forbidden", "permission denied: the caller lacks write:orgs"),
    ("cross-site cookie", lambda w: _send(w, "POST", "/api/v2/orgs", token=None, json={"name": "x"},
                                          headers={"Cookie": _signed_in_cookie(w),
                                                   "Sec-Fetch-Site": "cross-site"}),
     403, "forbidden", "a cross-site request cannot use the session cookie"),
    # 404 not found
    ("unknown bucket", lambda w: _send(w, "GET", "/api/v2/buckets/00000000000000aa"),
     404, "not found", "bucket '00000000000000aa' not found"),
    ("unknown path", lambda w: _send(w, "GET", "/api/v2/dashboards"),
     404, "not found", "path not found"),
    # 405
    ("method not allowed", lambda w: _send(w, "DELETE", "/api/v2/setup"),
     405, "method not allowed", "Method Not Allowed"),
    # 409 conflict: a refused state change
    ("last operator token", lambda w: _send(
        w, "PATCH", f"/api/v2/authorizations/{w.admin.authorization_id}",
        json={"status": "inactive"}),
     409, "conflict", "this would remove the last active token holding write:instance"),
    ("wrong old password", lambda w: _send(w, "PUT", "/api/v2/me/password", json={
        "password": "new-password-1", "oldPassword": "not-the-password"}),
     409, "conflict", "the old password is wrong"),
    # 413
    ("body above 1 MiB", lambda w: _send(w, "POST", "/api/v2/orgs",
                                         content=b'{"name": "' + b"x" * (1 << 20) + b'"}'),
     413, "request too large", "the body exceeds 1048576 bytes"),
    # 422 conflict, as InfluxDB answers
    ("setup twice", lambda w: _send(w, "POST", "/api/v2/setup", token=None, json={
        "username": "u", "password": "password-1", "org": "o", "bucket": "b"}),
     422, "conflict", "setup has already been done"),
    ("name taken", lambda w: _send(w, "POST", "/api/v2/orgs", json={"name": "acme"}),
     422, "conflict", ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_status_and_body(world: World, case: Case) -> None:
    _, send, status, code, message = case
    r = send(world)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"].startswith(message), body["message"]
    if status == 400:
        assert body["message"].startswith(r.headers["x-authzd-field"] + ": ")


def test_401_is_the_same_whatever_the_cause(world: World) -> None:
    answers = {
        _send(world, "GET", "/api/v2/me", token=t).content
        for t in (None, "azt_nope", "", "x" * 500)
    }
    assert answers == {b'{"code":"unauthorized","message":"unauthorized access"}'}


def test_429_when_password_work_is_saturated(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(password: str) -> str:
        raise LimitExceeded("too many password checks in progress; retry shortly")

    monkeypatch.setattr(world.http.running.server.app.hasher, "hash", busy)
    r = _send(world, "POST", "/api/v2/users", json={"name": "carol", "password": "password-1"})
    assert r.status_code == 429
    assert r.json() == {"code": "too many requests",
                        "message": "too many password checks in progress; retry shortly"}


def test_500_hides_the_exception(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(orgs, "create", broken)
    r = _send(world, "POST", "/api/v2/orgs", json={"name": "x"})
    assert r.status_code == 500
    body = r.json()
    assert body["code"] == "internal error"
    assert body["message"] == ("internal error; see the server log for request "
                               + r.headers["x-request-id"])
    assert "secret" not in r.text and "Traceback" not in r.text


def test_503_when_the_store_is_stale(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def stale() -> None:
        raise StoreUnavailable("the store has not been readable recently; refusing to decide")

    monkeypatch.setattr(world.http.running.server.app.access, "ensure_fresh", stale)
    r = _send(world, "GET", "/api/v2/orgs")
    assert r.status_code == 503
    assert r.json()["code"] == "unavailable"
    health = _send(world, "GET", "/health", token=None)
    assert health.status_code == 503
    assert (health.json()["name"], health.json()["status"]) == ("authzd", "fail")


def test_error_bodies_are_json_even_for_head_and_options(world: World) -> None:
    r = _send(world, "OPTIONS", "/api/v2/orgs")
    assert r.status_code == 405
    assert json.loads(r.content)["code"] == "method not allowed"
