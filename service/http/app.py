"""The HTTP API as an ASGI app: `create_http_app(app)`.

Every endpoint is a row of ENDPOINTS: method, path, handler, how the caller is
authenticated, and the audit action (the same names as the gRPC ones). One
wrapper (`_dispatch`) does for each row what transport/rpc.py does for each
RPC: request id, caller authentication, error -> status mapping, one log line,
the audit event. Handlers only convert JSON <-> domain and call the use cases
in service/app, so no rule is written twice; they are synchronous (peewee,
argon2) and run in the threadpool, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.app import authorizations, buckets, orgs, sessions, setup, users
from service.app.audit import DENIED, Target, outcome_of
from service.app.caller import Caller, authenticate, token_from_header
from service.app.context import App
from service.app.validate import next_page_token
from service.domain.errors import (
    AuthzdError,
    InvalidArgument,
    NotFound,
    StoreUnavailable,
    Unauthenticated,
)
from service.domain.ids import check_id
from service.domain.models import Status
from service.domain.permissions import check_permission
from service.store.database import STORE_ERRORS

from . import shapes
from .errors import HttpError, cross_site, http_field, status_of, too_large

log = structlog.get_logger("authzd.http")

COOKIE = "authzd_session"
VERSION = "authzd-0.1.0"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# InfluxDB's paging: default and largest `limit` of a list of buckets, orgs, users.
# (InfluxDB's largest is 100; authzd allows more, for the console.)
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

Json = dict[str, Any]


@dataclass
class Call:
    """One request, as the handlers see it (no Starlette types: they run in a
    worker thread)."""

    method: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    cookie_token: str | None
    origin: str
    body: Any = None
    body_error: Exception | None = None
    caller: Caller | None = None
    # What the audit event is about; handlers fill it in as they learn it.
    target: Target = field(default_factory=lambda: Target("unknown"))
    fields: Json = field(default_factory=dict)
    set_cookie: str | None = None

    @property
    def json(self) -> Mapping[str, Any]:
        return shapes.obj(self.body)

    def path_id(self, name: str) -> str:
        return check_id(name, self.path_params[name])


Handler = Callable[[App, Call], "tuple[int, Any]"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    auth: str = "token"  # "token" (header or cookie), "none"
    action: str = ""  # audit action ("" : never audited)
    write: bool = False  # audited whatever the outcome; else only when denied
    summary: str = ""


# -- helpers -------------------------------------------------------------------


def _caller(call: Call) -> Caller:
    assert call.caller is not None
    return call.caller


def _query_str(call: Call, key: str) -> str:
    return call.query.get(key, "")


def _query_int(call: Call, key: str, default: int, low: int, high: int) -> int:
    text = call.query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(key, "must be an integer") from None
    if not low <= value <= high:
        raise InvalidArgument(key, f"must be between {low} and {high}")
    return value


def _query_id(call: Call, key: str) -> str:
    value = _query_str(call, key)
    return check_id(key, value) if value else ""


def _pages(
    call: Call,
    kind: str,
    fetch: Callable[[int, str], tuple[list[Any], str]],
    *,
    default_limit: int = DEFAULT_LIMIT,
) -> tuple[list[Any], Json]:
    """A window of a list use case, with InfluxDB's `limit`/`offset`/`after`
    (default_limit 0: every item unless `limit` is given), and its links: `next`
    (relative, `after` the last id) when more items follow."""
    limit = _query_int(call, "limit", default_limit, 1, MAX_LIMIT)
    offset = _query_int(call, "offset", 0, 0, 1_000_000)
    after = _query_id(call, "after")
    token = next_page_token(kind, after) if after else ""
    out: list[Any] = []
    size = min(1000, offset + limit + 1) if limit else 1000
    while True:
        items, token = fetch(size, token)
        out.extend(items)
        if not token or (limit and len(out) > offset + limit):
            break
    path = f"/api/v2/{kind}"
    links: Json = {"self": path}
    if not limit:
        return out[offset:], links
    page = out[offset : offset + limit]
    if len(out) > offset + limit and page:
        query = {k: v for k, v in call.query.items() if k not in ("offset", "after", "limit")}
        query.update(limit=str(limit), after=page[-1].id)
        links["next"] = f"{path}?{urlencode(query)}"
    return page, links


def _paths(body: Mapping[str, Any], *names: str) -> list[str]:
    """The updatable fields a PATCH body names (null counts as absent)."""
    chosen = [n for n in names if body.get(n) is not None]
    if not chosen:
        raise InvalidArgument("body", f"nothing to update; updatable: {', '.join(names)}")
    return chosen


def _basic(call: Call) -> tuple[str, str] | None:
    value = call.headers.get("authorization", "")
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = text.partition(":")
    return (username, password) if sep else None


def _cookie(token: str, max_age: int, secure: bool) -> str:
    attrs = f"{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return attrs + "; Secure" if secure else attrs


# -- health ----------------------------------------------------------------------


def _health(app: App, call: Call) -> tuple[int, Any]:
    try:
        app.access.ensure_fresh()
        ok = True
    except StoreUnavailable:
        ok = False
    body = {
        "name": "authzd",
        "message": "ready for requests" if ok else "the store is unavailable",
        "status": "pass" if ok else "fail",
        "checks": [],
        "version": VERSION,
        "commit": "",
    }
    return (200 if ok else 503), body


# -- setup and sessions ------------------------------------------------------------


def _setup_status(app: App, call: Call) -> tuple[int, Any]:
    return 200, {"allowed": setup.allowed(app)}


def _setup(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    username = shapes.string(body, "username")
    call.target = Target("instance")
    call.fields = {k: v for k, v in (("user", username), ("org", shapes.string(body, "org")),
                                     ("bucket", shapes.string(body, "bucket"))) if v}
    if shapes.string(body, "token"):
        raise InvalidArgument("token", "authzd makes its own tokens; leave it out")
    for key in ("retentionPeriodSeconds", "retentionPeriodHrs"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidArgument(key, "must be an integer")
    r = setup.setup(
        app,
        username,
        shapes.string(body, "password"),
        shapes.string(body, "org"),
        shapes.string(body, "bucket"),
    )
    call.fields.update(user_id=r.user.id, org_id=r.org.id, bucket_id=r.bucket.id,
                       authorization_id=r.authorization.id)
    return 201, {
        "user": shapes.user_json(r.user),
        "org": shapes.org_json(r.org),
        "bucket": shapes.bucket_json(r.bucket),
        "auth": shapes.authorization_json(r.authorization, r.token),
    }


def _signin(app: App, call: Call) -> tuple[int, Any]:
    credentials = _basic(call)
    if credentials is None:
        call.target = Target("user")
        raise Unauthenticated()
    username, password = credentials
    call.target = Target("user", name=username[:256])
    r = sessions.sign_in(app, username, password)
    call.target = Target("user", r.user.id, username[:256])
    call.set_cookie = _cookie(
        r.token, app.settings.session_ttl_minutes * 60, call.origin.startswith("https:")
    )
    return 204, None


def _signout(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    call.target = Target("session", caller.authorization_id if caller.is_session else "")
    sessions.sign_out(app, caller)
    call.set_cookie = _cookie("", 0, call.origin.startswith("https:"))
    return 204, None


# -- users -------------------------------------------------------------------------


def _me(app: App, call: Call) -> tuple[int, Any]:
    # A caller may always read itself: no permission is asked (as in InfluxDB).
    caller = _caller(call)
    user = app.store.get_user(caller.user_id)
    if user is None:
        raise Unauthenticated()
    # authzd's extra: what this credential may do (a session: its user's tokens').
    return 200, {**shapes.user_json(user),
                 "permissions": [shapes.permission_json(p) for p in caller.permissions.permissions]}


def _old_password(call: Call, body: Mapping[str, Any]) -> str:
    """The old password: `oldPassword` in the body, or Basic auth (InfluxDB's way)."""
    old = shapes.string(body, "oldPassword")
    basic = _basic(call)
    return old or (basic[1] if basic else "")


def _me_password(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    body = call.json
    call.target = Target("user", caller.user_id)
    users.set_password(app, caller, caller.user_id, _old_password(call, body),
                       shapes.required(body, "password"))
    return 204, None


def _users_list(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    user_id = _query_id(call, "id")
    name = _query_str(call, "name")
    if user_id:
        try:
            found = [users.get(app, caller, user_id)]
        except NotFound:
            found = []
        found = [u for u in found if not name or u.name == name]
        links: Json = {"self": "/api/v2/users"}
    else:
        found, links = _pages(call, "users",
                              lambda size, token: users.list_(app, caller, size, token, name))
    return 200, {"links": links, "users": [shapes.user_json(u) for u in found]}


def _users_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    call.target = Target("user", name=name[:256])
    new_status = shapes.status(body)
    user = users.create(app, _caller(call), name, shapes.string(body, "password"),
                        int(new_status or 0))
    call.target = Target("user", user.id, user.name)
    call.fields = {"status": user.status.name}
    return 201, shapes.user_json(user)


def _users_get(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    call.target = Target("user", user_id)
    return 200, shapes.user_json(users.get(app, _caller(call), user_id))


def _users_patch(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    body = call.json
    call.target = Target("user", user_id)
    paths = _paths(body, "name", "status")
    call.fields = {"update_mask": paths}
    new_status = shapes.status(body)
    user = users.update(app, _caller(call), user_id, paths, shapes.string(body, "name"),
                        int(new_status or 0))
    call.target = Target("user", user.id, user.name)
    call.fields["status"] = user.status.name
    return 200, shapes.user_json(user)


def _users_delete(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    call.target = Target("user", user_id)
    users.delete(app, _caller(call), user_id)
    return 204, None


def _users_password(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    body = call.json
    call.target = Target("user", user_id)
    users.set_password(app, _caller(call), user_id, _old_password(call, body),
                       shapes.required(body, "password"))
    return 204, None


# -- organizations -------------------------------------------------------------------


def _orgs_list(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    org_id = _query_id(call, "orgID")
    name = _query_str(call, "org")
    if org_id:
        try:
            found = [orgs.get(app, caller, org_id)]
        except NotFound:
            found = []
        found = [o for o in found if not name or o.name == name]
        links: Json = {"self": "/api/v2/orgs"}
    else:
        found, links = _pages(call, "orgs",
                              lambda size, token: orgs.list_(app, caller, size, token, name))
    return 200, {"links": links, "orgs": [shapes.org_json(o) for o in found]}


def _orgs_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    call.target = Target("organization", name=name[:256])
    org = orgs.create(app, _caller(call), name, shapes.string(body, "description"))
    call.target = Target("organization", org.id, org.name)
    return 201, shapes.org_json(org)


def _orgs_get(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    call.target = Target("organization", org_id)
    return 200, shapes.org_json(orgs.get(app, _caller(call), org_id))


def _orgs_patch(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    body = call.json
    call.target = Target("organization", org_id)
    paths = _paths(body, "name", "description")
    call.fields = {"update_mask": paths}
    org = orgs.update(app, _caller(call), org_id, paths, shapes.string(body, "name"),
                      shapes.string(body, "description"))
    call.target = Target("organization", org.id, org.name)
    return 200, shapes.org_json(org)


def _orgs_delete(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    call.target = Target("organization", org_id)
    orgs.delete(app, _caller(call), org_id)
    return 204, None


# -- buckets ---------------------------------------------------------------------------


def _buckets_list(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    org_id = _query_id(call, "orgID")
    org = _query_str(call, "org")
    name = _query_str(call, "name")
    bucket_id = _query_id(call, "id")
    if bucket_id:
        try:
            found = [buckets.get(app, caller, bucket_id)]
        except NotFound:
            found = []
        found = [b for b in found if (not name or b.name == name)
                 and (not org_id or b.org_id == org_id) and (not org or b.org_name == org)]
        links: Json = {"self": "/api/v2/buckets"}
    else:
        found, links = _pages(
            call, "buckets",
            lambda size, token: buckets.list_(app, caller, org_id, org, size, token, name),
        )
    return 200, {"links": links, "buckets": [shapes.bucket_json(b) for b in found]}


def _buckets_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    org_id = shapes.string(body, "orgID")
    org = shapes.string(body, "org")
    call.target = Target("bucket", name=name[:256])
    call.fields = {k: v for k, v in (("org_id", org_id[:64]), ("org", org[:256])) if v}
    shapes.string(body, "rp")
    rules = shapes.retention_rules(body)
    bucket = buckets.create(app, _caller(call), org_id, org, name,
                            shapes.string(body, "description"))
    call.target = Target("bucket", bucket.id, bucket.name)
    call.fields = {"org_id": bucket.org_id, "org": bucket.org_name}
    return 201, shapes.bucket_json(bucket, rules)


def _buckets_get(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    call.target = Target("bucket", bucket_id)
    return 200, shapes.bucket_json(buckets.get(app, _caller(call), bucket_id))


def _buckets_patch(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    body = call.json
    call.target = Target("bucket", bucket_id)
    rules = shapes.retention_rules(body)
    paths = [p for p in ("name", "description") if body.get(p) is not None]
    if not paths and body.get("retentionRules") is None:
        raise InvalidArgument("body", "nothing to update; updatable: name, description, "
                              "retentionRules")
    call.fields = {"update_mask": paths}
    caller = _caller(call)
    if paths:
        bucket = buckets.update(app, caller, bucket_id, paths, shapes.string(body, "name"),
                                shapes.string(body, "description"))
    else:  # retention rules only: nothing authzd keeps, but the caller must be allowed
        bucket = buckets.update(app, caller, bucket_id, ["description"], "",
                                buckets.get(app, caller, bucket_id).description)
    call.target = Target("bucket", bucket.id, bucket.name)
    call.fields["org_id"] = bucket.org_id
    return 200, shapes.bucket_json(bucket, rules)


def _buckets_delete(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    call.target = Target("bucket", bucket_id)
    buckets.delete(app, _caller(call), bucket_id)
    return 204, None


# -- authorizations ------------------------------------------------------------------------

PRESETS = {"operator": authorizations.PRESET_OPERATOR,
           "all-access": authorizations.PRESET_ALL_ACCESS}


def _auths_list(app: App, call: Call) -> tuple[int, Any]:
    caller = _caller(call)
    user_id = _query_id(call, "userID")
    org_id = _query_id(call, "orgID")
    auth_id = _query_id(call, "id")
    found, links = _pages(
        call, "authorizations",
        lambda size, token: authorizations.list_(
            app, caller, user_id=user_id, user=_query_str(call, "user"), org_id=org_id,
            org=_query_str(call, "org"), auth_id=auth_id, page_size=size, page_token=token,
        ),
        default_limit=0,  # InfluxDB lists every authorization
    )
    return 200, {"links": links,
                 "authorizations": [shapes.authorization_json(a) for a in found]}


def _auths_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    caller = _caller(call)
    org_id, org = shapes.string(body, "orgID"), shapes.string(body, "org")
    user_id, user = shapes.string(body, "userID"), shapes.string(body, "user")
    call.target = Target("authorization")
    call.fields = {k: v for k, v in (("org_id", org_id[:64]), ("org", org[:256]),
                                     ("user_id", user_id[:64]), ("user", user[:256])) if v}
    preset_text = shapes.string(body, "preset")
    if preset_text and preset_text not in PRESETS:
        raise InvalidArgument("preset", 'must be "operator" or "all-access"')
    perms = shapes.permissions(body)
    for i, p in enumerate(perms):
        check_permission(f"permissions[{i}]", p)
    new_status = shapes.status(body)
    auth, token = authorizations.create(
        app,
        caller,
        org_id=org_id,
        org=org,
        user_id=user_id,
        user=user,
        description=shapes.string(body, "description"),
        permissions=perms,
        preset=PRESETS.get(preset_text, 0),
        expire_time=shapes.time_value(body, "expiresAt"),
    )
    if new_status is Status.INACTIVE:  # InfluxDB can create a token inactive
        auth = authorizations.update(app, caller, auth.id, ["status"], Status.INACTIVE, "")
    call.target = Target("authorization", auth.id)
    call.fields = {"org_id": auth.org_id, "org": auth.org_name, "user_id": auth.user_id,
                   "user": auth.user_name,
                   "permissions": [str(p) for p in auth.permissions]}
    return 201, shapes.authorization_json(auth, token)


def _auths_get(app: App, call: Call) -> tuple[int, Any]:
    auth_id = call.path_id("authID")
    call.target = Target("authorization", auth_id)
    return 200, shapes.authorization_json(authorizations.get(app, _caller(call), auth_id))


def _auths_patch(app: App, call: Call) -> tuple[int, Any]:
    # Clients send the whole object back (the token too, after a create): only
    # status and description are read, and the body is never logged.
    auth_id = call.path_id("authID")
    body = call.json
    call.target = Target("authorization", auth_id)
    paths = _paths(body, "status", "description")
    call.fields = {"update_mask": paths}
    new_status = shapes.status(body)
    auth = authorizations.update(app, _caller(call), auth_id, paths, int(new_status or 0),
                                 shapes.string(body, "description"))
    call.fields["status"] = auth.status.name
    return 200, shapes.authorization_json(auth)


def _auths_delete(app: App, call: Call) -> tuple[int, Any]:
    auth_id = call.path_id("authID")
    call.target = Target("authorization", auth_id)
    authorizations.delete(app, _caller(call), auth_id)
    return 204, None


# -- decisions -------------------------------------------------------------------------------


def _check(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    token = shapes.required(body, "token")
    requested = check_permission("permission", shapes.permission(body.get("permission"),
                                                                 "permission"))
    decision = app.access.check(token, requested)
    return 200, {
        "allowed": decision.allowed,
        "reason": decision.reason.name,
        "matchedPermission": (shapes.permission_json(decision.matched)
                              if decision.matched is not None else None),
        "authorizationID": decision.authorization_id,
        "userID": decision.user_id,
        "orgID": decision.org_id,
    }


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/health", _health, "none", summary="Health of the instance"),
    Endpoint("GET", "/api/v2/setup", _setup_status, "none", summary="Whether setup is allowed"),
    Endpoint("POST", "/api/v2/setup", _setup, "none", "setup", True,
             summary="Onboarding: first user, org, bucket and operator token"),
    Endpoint("POST", "/api/v2/signin", _signin, "none", "session.sign_in", True,
             summary="Basic auth -> session cookie"),
    Endpoint("POST", "/api/v2/signout", _signout, "token", "session.sign_out", True,
             summary="End the session"),
    Endpoint("GET", "/api/v2/me", _me, summary="The calling user"),
    Endpoint("PUT", "/api/v2/me/password", _me_password, "token", "user.set_password", True,
             summary="Change the calling user's password"),
    Endpoint("GET", "/api/v2/users", _users_list, "token", "user.list", summary="List users"),
    Endpoint("POST", "/api/v2/users", _users_create, "token", "user.create", True,
             summary="Create a user"),
    Endpoint("GET", "/api/v2/users/{userID}", _users_get, "token", "user.get",
             summary="Get a user"),
    Endpoint("PATCH", "/api/v2/users/{userID}", _users_patch, "token", "user.update", True,
             summary="Update a user's name or status"),
    Endpoint("DELETE", "/api/v2/users/{userID}", _users_delete, "token", "user.delete", True,
             summary="Delete a user"),
    Endpoint("POST", "/api/v2/users/{userID}/password", _users_password, "token",
             "user.set_password", True, summary="Set a user's password"),
    Endpoint("GET", "/api/v2/orgs", _orgs_list, "token", "organization.list",
             summary="List organizations"),
    Endpoint("POST", "/api/v2/orgs", _orgs_create, "token", "organization.create", True,
             summary="Create an organization"),
    Endpoint("GET", "/api/v2/orgs/{orgID}", _orgs_get, "token", "organization.get",
             summary="Get an organization"),
    Endpoint("PATCH", "/api/v2/orgs/{orgID}", _orgs_patch, "token", "organization.update", True,
             summary="Update an organization"),
    Endpoint("DELETE", "/api/v2/orgs/{orgID}", _orgs_delete, "token", "organization.delete",
             True, summary="Delete an organization"),
    Endpoint("GET", "/api/v2/buckets", _buckets_list, "token", "bucket.list",
             summary="List buckets"),
    Endpoint("POST", "/api/v2/buckets", _buckets_create, "token", "bucket.create", True,
             summary="Create a bucket"),
    Endpoint("GET", "/api/v2/buckets/{bucketID}", _buckets_get, "token", "bucket.get",
             summary="Get a bucket"),
    Endpoint("PATCH", "/api/v2/buckets/{bucketID}", _buckets_patch, "token", "bucket.update",
             True, summary="Update a bucket"),
    Endpoint("DELETE", "/api/v2/buckets/{bucketID}", _buckets_delete, "token", "bucket.delete",
             True, summary="Delete a bucket"),
    Endpoint("GET", "/api/v2/authorizations", _auths_list, "token", "authorization.list",
             summary="List authorizations (tokens never shown)"),
    Endpoint("POST", "/api/v2/authorizations", _auths_create, "token", "authorization.create",
             True, summary="Create an authorization; the token is in this response only"),
    Endpoint("GET", "/api/v2/authorizations/{authID}", _auths_get, "token",
             "authorization.get", summary="Get an authorization"),
    Endpoint("PATCH", "/api/v2/authorizations/{authID}", _auths_patch, "token",
             "authorization.update", True, summary="Update status and description"),
    Endpoint("DELETE", "/api/v2/authorizations/{authID}", _auths_delete, "token",
             "authorization.delete", True, summary="Delete an authorization"),
    Endpoint("POST", "/api/v2/check", _check, "none",
             summary="Decide whether a token holds a permission (authzd's own)"),
]


# -- the wrapper -----------------------------------------------------------------------------


def _authenticate(app: App, call: Call) -> Caller:
    header = call.headers.get("authorization")
    if token_from_header(header) is not None:
        return authenticate(app.access, header, app.clock.time())
    if call.cookie_token:
        # A browser sends the cookie on any request to this origin: an unsafe
        # method must come from this origin's own pages.
        if call.method not in SAFE_METHODS:
            site = call.headers.get("sec-fetch-site")
            origin = call.headers.get("origin")
            if (site is not None and site != "same-origin") or (
                origin is not None and origin != call.origin
            ):
                raise cross_site()
        return authenticate(app.access, "Token " + call.cookie_token, app.clock.time())
    raise Unauthenticated()


def _error_body(status: int, code: str, message: str) -> tuple[int, Json]:
    return status, {"code": code, "message": message}


def _dispatch(app: App, ep: Endpoint, call: Call, request_id: str, peer: str) -> Response:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=request_id, method=f"{ep.method} {ep.path}", peer=peer
    )
    start = time.perf_counter()
    err: AuthzdError | HttpError | None = None
    try:
        if call.body_error is not None:
            raise call.body_error
        if ep.auth == "token":
            call.caller = _authenticate(app, call)
            structlog.contextvars.bind_contextvars(
                caller_authorization=call.caller.authorization_id,
                caller_user=call.caller.user_id,
            )
        status, payload = ep.handler(app, call)
    except HttpError as exc:
        err = exc
        status, payload = _error_body(exc.status, exc.code, exc.message)
    except AuthzdError as exc:
        err = exc
        status, code, message = status_of(exc)
        payload = {"code": code, "message": message}
    except STORE_ERRORS as exc:
        err = StoreUnavailable()
        status, code, message = status_of(err)
        payload = {"code": code, "message": message}
        log.warning("store_error", error=type(exc).__name__)
    except Exception:
        log.exception("http_failed")
        err = AuthzdError("internal error; see the server log for request " + request_id)
        status, code, message = status_of(err)
        payload = {"code": code, "message": message}
    reason = err.reason if err is not None else ""
    log.info("http", status=status, duration_ms=round((time.perf_counter() - start) * 1000, 3),
             **({"reason": reason} if reason else {}))
    _audit(app, ep, call, status, err)
    headers = {"x-request-id": request_id}
    if err is not None and reason:
        headers["x-authzd-reason"] = reason
    if isinstance(err, InvalidArgument):
        headers["x-authzd-field"] = http_field(err.field)
    if call.set_cookie is not None and err is None:
        headers["set-cookie"] = call.set_cookie
    if payload is None:
        return Response(status_code=status, headers=headers)
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def _audit(app: App, ep: Endpoint, call: Call, status: int,
           err: AuthzdError | HttpError | None) -> None:
    if not ep.action or not app.audit.enabled:
        return
    if isinstance(err, HttpError):
        code = "PERMISSION_DENIED" if err.status == 403 else (
            "RESOURCE_EXHAUSTED" if err.status == 413 else "INVALID_ARGUMENT")
    else:
        code = err.code.value if err is not None else "OK"
    outcome = outcome_of(code)
    if not ep.write and outcome != DENIED:
        return
    reason = "ERROR_REASON_" + err.reason if err is not None else ""
    app.audit.record(ep.action, call.target, outcome, reason, transport="http", **call.fields)


async def _read_body(request: Request, limit: int) -> tuple[Any, Exception | None]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None, too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None, too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, InvalidArgument("body", "is not valid JSON")


def create_http_app(app: App, *, started: datetime | None = None) -> Starlette:
    """The ASGI app serving ENDPOINTS for `app` (plus /ping, /ready and the OpenAPI
    document)."""
    from . import console
    from .openapi import document

    limit = app.settings.max_admin_request_bytes
    started = started or datetime.now(UTC)
    spec = json.dumps(document(ENDPOINTS)).encode()

    def route(ep: Endpoint) -> Route:
        async def endpoint(request: Request) -> Response:
            body, body_error = None, None
            if ep.method not in SAFE_METHODS:
                body, body_error = await _read_body(request, limit)
            host = request.headers.get("host", "")
            call = Call(
                method=request.method,
                path_params=dict(request.path_params),
                query=dict(request.query_params),
                headers=dict(request.headers),
                cookie_token=request.cookies.get(COOKIE) or None,
                origin=f"{request.url.scheme}://{host}",
                body=body,
                body_error=body_error,
            )
            request_id = (request.headers.get("x-request-id") or secrets.token_hex(8))[:64]
            peer = f"{request.client.host}:{request.client.port}" if request.client else ""
            return await run_in_threadpool(_dispatch, app, ep, call, request_id, peer)

        return Route(ep.path, endpoint, methods=[ep.method], name=f"{ep.method} {ep.path}")

    async def ping(request: Request) -> Response:
        return Response(status_code=204, headers={"x-influxdb-version": VERSION,
                                                  "x-influxdb-build": "authzd"})

    async def ready(request: Request) -> Response:
        up = datetime.now(UTC) - started
        body = {"status": "ready", "started": shapes.rfc3339(started),
                "up": f"{int(up.total_seconds())}s"}
        return Response(json.dumps(body), media_type="application/json; charset=utf-8")

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "invalid")
        message = "path not found" if exc.status_code == 404 else str(exc.detail)
        return Response(json.dumps({"code": code, "message": message}),
                        status_code=exc.status_code, headers=exc.headers,
                        media_type="application/json; charset=utf-8")

    routes = [route(ep) for ep in ENDPOINTS]
    routes += [
        Route("/ping", ping, methods=["GET", "HEAD"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/api/v2/openapi.json", openapi, methods=["GET"]),
    ]
    routes += console.routes()  # last: it serves "/"
    return Starlette(
        routes=routes,
        middleware=[Middleware(console.SecurityHeadersMiddleware)],
        exception_handlers={HTTPException: http_error},
    )
