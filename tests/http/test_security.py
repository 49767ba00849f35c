"""The HTTP API's security rules: the session cookie and its cross-site refusal,
tokens shown once, and an All-Access token confined to its organization."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, sqlite_only
from tests.http.conftest import Http

pytestmark = sqlite_only


def _sign_in(http: Http, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> httpx.Response:
    with http.client() as c:
        return c.post("/api/v2/signin", auth=(user, password))


def test_signin_sets_exactly_one_strict_http_only_cookie(http: Http, admin: Admin) -> None:
    r = _sign_in(http)
    assert r.status_code == 204
    assert r.content == b""
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 1
    attrs = [a.strip() for a in cookies[0].split(";")]
    name, _, value = attrs[0].partition("=")
    assert name == "authzd_session" and value.startswith("azs_")
    assert {"Path=/", "HttpOnly", "SameSite=Strict"} <= set(attrs)
    assert "Secure" not in attrs  # plain HTTP here; under TLS it is added
    # The Python client echoes the whole Set-Cookie value back as its Cookie header.
    with http.client(Cookie=cookies[0]) as c:
        me = c.get("/api/v2/me")
        assert me.status_code == 200 and me.json()["id"] == admin.user_id
        out = c.post("/api/v2/signout")
        assert out.status_code == 204
        cleared = out.headers.get_list("set-cookie")
        assert len(cleared) == 1 and "Max-Age=0" in cleared[0]
        assert c.get("/api/v2/me").status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 201),  # a non-browser client sends neither header
        ({"Sec-Fetch-Site": "same-origin"}, 201),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "{origin}"}, 201),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Sec-Fetch-Site": "none", "Origin": "https://evil.example"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:1"}, 403),
    ],
)
def test_unsafe_methods_by_cookie_are_refused_cross_site(
    http: Http, admin: Admin, headers: dict[str, str], status: int
) -> None:
    cookie = _sign_in(http).headers["set-cookie"].split(";")[0]
    headers = {k: v.replace("{origin}", http.url) for k, v in headers.items()}
    with http.client(Cookie=cookie, **headers) as c:
        r = c.post("/api/v2/orgs", json={"name": "org-from-browser"})
        assert r.status_code == status, r.text
        if status == 403:
            assert r.json()["code"] == "forbidden"
            # Nothing was written, and reads stay allowed (they change nothing).
            assert c.get("/api/v2/orgs").json()["orgs"][0]["name"] == "acme"
            assert len(c.get("/api/v2/orgs").json()["orgs"]) == 1


def test_a_token_is_not_subject_to_the_cookie_rule(http: Http, admin: Admin) -> None:
    with http.client(admin.token, **{"Sec-Fetch-Site": "cross-site",
                                     "Origin": "https://evil.example"}) as c:
        assert c.post("/api/v2/orgs", json={"name": "scripted"}).status_code == 201


def test_a_token_is_shown_only_when_created(http: Http, admin: Admin, api: httpx.Client) -> None:
    created = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id, "description": "d", "preset": "all-access"}).json()
    token = created["token"]
    assert created["kind"] == "all-access"
    assert created["tokenHint"] == token[:8]
    auth_id = created["id"]
    answers = [
        api.get("/api/v2/authorizations"),
        api.get(f"/api/v2/authorizations/{auth_id}"),
        api.get("/api/v2/authorizations", params={"orgID": admin.org_id}),
        api.get("/api/v2/authorizations", params={"user": ADMIN_USER}),
        api.patch(f"/api/v2/authorizations/{auth_id}", json={**created, "description": "e"}),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert token not in r.text
        assert admin.token not in r.text
        assert '"token"' not in r.text
    one = answers[1].json()
    assert one["kind"] == "all-access" and one["expiresAt"] is None
    assert set(one) >= {"kind", "tokenHint", "expiresAt", "lastUsedAt", "createdAt", "updatedAt"}


def test_all_access_sees_only_its_own_org(http: Http, admin: Admin, api: httpx.Client) -> None:
    other = api.post("/api/v2/orgs", json={"name": "other"}).json()
    theirs = api.post("/api/v2/authorizations", json={
        "orgID": other["id"], "preset": "all-access"}).json()
    ours = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id, "preset": "all-access"}).json()
    with http.client(ours["token"]) as c:
        listed = c.get("/api/v2/authorizations").json()["authorizations"]
        assert other["id"] not in {a["orgID"] for a in listed}
        assert theirs["id"] not in {a["id"] for a in listed}
        assert ours["id"] in {a["id"] for a in listed}
        # An org the token cannot see answers like a missing one (SPEC §4).
        invisible = c.get("/api/v2/authorizations", params={"orgID": other["id"]})
        missing = c.get("/api/v2/authorizations", params={"orgID": "0f0f0f0f0f0f0f0f"})
        assert invisible.status_code == missing.status_code == 404
        assert invisible.json()["code"] == missing.json()["code"] == "not found"
        assert invisible.json()["message"].replace(other["id"], "X") == (
            missing.json()["message"].replace("0f0f0f0f0f0f0f0f", "X"))
        assert c.get(f"/api/v2/authorizations/{theirs['id']}").status_code == 404
        assert c.patch(f"/api/v2/authorizations/{theirs['id']}",
                       json={"status": "inactive"}).status_code == 404
        assert c.delete(f"/api/v2/authorizations/{theirs['id']}").status_code == 404
        assert [o["id"] for o in c.get("/api/v2/orgs").json()["orgs"]] == [admin.org_id]
        assert c.get(f"/api/v2/orgs/{other['id']}").status_code == 404
    assert api.get(f"/api/v2/authorizations/{theirs['id']}").json()["status"] == "active"


def test_check_answers_the_decision(http: Http, admin: Admin, api: httpx.Client) -> None:
    reader = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id,
        "permissions": [{"action": "read", "resource": {
            "type": "buckets", "orgID": admin.org_id, "id": admin.bucket_id}}]}).json()
    wanted = {"action": "read", "resource": {
        "type": "buckets", "orgID": admin.org_id, "id": admin.bucket_id}}
    with http.client() as c:
        allowed = c.post("/api/v2/check", json={"token": reader["token"], "permission": wanted})
        assert allowed.json() == {
            "allowed": True, "reason": "ALLOWED", "matchedPermission": wanted,
            "authorizationID": reader["id"], "userID": admin.user_id, "orgID": admin.org_id,
        }
        api.patch(f"/api/v2/authorizations/{reader['id']}", json={"status": "inactive"})
        denied = c.post("/api/v2/check", json={"token": reader["token"], "permission": wanted})
        assert (denied.json()["allowed"], denied.json()["reason"]) == (False, "TOKEN_INACTIVE")
        write = {**wanted, "action": "write"}
        api.patch(f"/api/v2/authorizations/{reader['id']}", json={"status": "active"})
        no = c.post("/api/v2/check", json={"token": reader["token"], "permission": write}).json()
        assert (no["reason"], no["matchedPermission"]) == ("NO_MATCHING_PERMISSION", None)


def test_lists_page_with_limit_and_next_link(http: Http, admin: Admin, api: httpx.Client) -> None:
    names = [f"b{i:02d}" for i in range(5)]
    for name in names:
        assert api.post("/api/v2/buckets", json={"orgID": admin.org_id, "name": name,
                                                 "retentionRules": []}).status_code == 201
    seen: list[str] = []
    url: str | None = "/api/v2/buckets?limit=2"
    while url:
        page = api.get(url).json()
        assert len(page["buckets"]) <= 2
        seen += [b["name"] for b in page["buckets"]]
        url = page["links"].get("next")
    assert sorted(seen) == sorted([*names, "telemetry"])
    assert len(api.get("/api/v2/buckets", params={"offset": 4}).json()["buckets"]) == 2


def test_presets_and_expiry(http: Http, admin: Admin, api: httpx.Client) -> None:
    clock = http.running.clock
    expires = datetime.fromtimestamp(clock.time() + 3600, UTC)
    created = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id, "preset": "all-access", "status": "active",
        "expiresAt": expires.isoformat().replace("+00:00", "Z")}).json()
    assert created["kind"] == "all-access"
    assert datetime.fromisoformat(created["expiresAt"]) == expires
    assert len(created["permissions"]) == 45
    operator = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id, "preset": "operator"}).json()
    assert operator["kind"] == "operator" and len(operator["permissions"]) == 46
    inactive = api.post("/api/v2/authorizations", json={
        "orgID": admin.org_id, "preset": "all-access", "status": "inactive"}).json()
    assert inactive["status"] == "inactive"
    wanted = {"action": "read", "resource": {"type": "buckets", "orgID": admin.org_id}}
    with http.client() as c:
        def reason(token: str) -> str:
            r = c.post("/api/v2/check", json={"token": token, "permission": wanted})
            return str(r.json()["reason"])

        assert reason(created["token"]) == "ALLOWED"
        assert reason(inactive["token"]) == "TOKEN_INACTIVE"
        clock.advance(3601)
        assert reason(created["token"]) == "TOKEN_EXPIRED"
        assert reason(operator["token"]) == "ALLOWED"
    with http.client(created["token"]) as expired:
        assert expired.get("/api/v2/me").status_code == 401
