"""The endpoints: one handler per InfluxDB operation, each converting JSON <->
domain (shapes.py) and calling the use case in service/app that gRPC calls too;
ENDPOINTS lists them with how the caller is authenticated and the audit action
(the gRPC one's name)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.app import authorizations, buckets, orgs, sessions, setup, users
from service.app.audit import Target
from service.app.context import App
from service.domain.errors import (
    InvalidArgument,
    NotFound,
    StoreUnavailable,
    Unauthenticated,
)
from service.domain.models import Status
from service.domain.permissions import check_permission
from service.domain.presets import PRESET_ALL_ACCESS, PRESET_OPERATOR

from . import shapes
from .call import (
    VERSION,
    Call,
    Endpoint,
    Json,
    basic_credentials,
    caller_of,
    pages,
    patched,
    query_id,
    query_str,
    session_cookie,
)

# -- health ----------------------------------------------------------------------


def _health(app: App, call: Call) -> tuple[int, Any]:
    try:
        app.access.ensure_fresh()
        ok = True
    except StoreUnavailable:
        ok = False
    body: dict[str, Any] = {
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
    credentials = basic_credentials(call)
    if credentials is None:
        call.target = Target("user")
        raise Unauthenticated()
    username, password = credentials
    call.target = Target("user", name=username[:256])
    r = sessions.sign_in(app, username, password)
    call.target = Target("user", r.user.id, username[:256])
    call.set_cookie = session_cookie(
        r.token, app.settings.session_ttl_minutes * 60, call.origin.startswith("https:")
    )
    return 204, None


def _signout(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    call.target = Target("session", caller.authorization_id if caller.is_session else "")
    sessions.sign_out(app, caller)
    call.set_cookie = session_cookie("", 0, call.origin.startswith("https:"))
    return 204, None


# -- users -------------------------------------------------------------------------


def _me(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    user = users.me(app, caller)
    # authzd's extra: what this credential may do (a session: its user's tokens').
    return 200, {**shapes.user_json(user),
                 "permissions": [shapes.permission_json(p) for p in caller.permissions.permissions]}


def _old_password(call: Call, body: Mapping[str, Any]) -> str:
    """The old password: `oldPassword` in the body, or Basic auth (InfluxDB's way)."""
    old = shapes.string(body, "oldPassword")
    basic = basic_credentials(call)
    return old or (basic[1] if basic else "")


def _me_password(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    body = call.json
    call.target = Target("user", caller.user_id)
    users.set_password(app, caller, caller.user_id, _old_password(call, body),
                       shapes.required(body, "password"))
    return 204, None


def _one_or_page(
    call: Call,
    kind: str,
    one_id: str,
    get_one: Callable[[str], Any],
    keep: Callable[[Any], bool],
    list_page: Callable[[int, str], Any],
    to_json: Callable[[Any], Json],
) -> tuple[int, Any]:
    """A list answer: the one record an `id` filter names (if the caller may see
    it and the other filters keep it), or a page of the use case's list."""
    if one_id:
        try:
            found = [get_one(one_id)]
        except NotFound:
            found = []
        found = [x for x in found if keep(x)]
        links: Json = {"self": f"/api/v2/{kind}"}
    else:
        found, links = pages(call, kind, list_page)
    return 200, {"links": links, kind: [to_json(x) for x in found]}


def _users_list(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    name = query_str(call, "name")
    return _one_or_page(
        call, "users", query_id(call, "id"),
        lambda user_id: users.get(app, caller, user_id),
        lambda u: not name or u.name == name,
        lambda size, token: users.list_(app, caller, size, token, name),
        shapes.user_json,
    )


def _users_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    call.target = Target("user", name=name[:256])
    new_status = shapes.status(body)
    user = users.create(app, caller_of(call), name, shapes.string(body, "password"),
                        int(new_status or 0))
    call.target = Target("user", user.id, user.name)
    call.fields = {"status": user.status.name}
    return 201, shapes.user_json(user)


def _users_get(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    call.target = Target("user", user_id)
    return 200, shapes.user_json(users.get(app, caller_of(call), user_id))


def _users_patch(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    body = call.json
    call.target = Target("user", user_id)
    paths = patched(body, "name", "status")
    call.fields = {"update_mask": paths}
    new_status = shapes.status(body)
    user = users.update(app, caller_of(call), user_id, paths, shapes.string(body, "name"),
                        int(new_status or 0))
    call.target = Target("user", user.id, user.name)
    call.fields["status"] = user.status.name
    return 200, shapes.user_json(user)


def _users_delete(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    call.target = Target("user", user_id)
    users.delete(app, caller_of(call), user_id)
    return 204, None


def _users_password(app: App, call: Call) -> tuple[int, Any]:
    user_id = call.path_id("userID")
    body = call.json
    call.target = Target("user", user_id)
    users.set_password(app, caller_of(call), user_id, _old_password(call, body),
                       shapes.required(body, "password"))
    return 204, None


# -- organizations -------------------------------------------------------------------


def _orgs_list(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    name = query_str(call, "org")
    return _one_or_page(
        call, "orgs", query_id(call, "orgID"),
        lambda org_id: orgs.get(app, caller, org_id),
        lambda o: not name or o.name == name,
        lambda size, token: orgs.list_(app, caller, size, token, name),
        shapes.org_json,
    )


def _orgs_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    call.target = Target("organization", name=name[:256])
    org = orgs.create(app, caller_of(call), name, shapes.string(body, "description"))
    call.target = Target("organization", org.id, org.name)
    return 201, shapes.org_json(org)


def _orgs_get(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    call.target = Target("organization", org_id)
    return 200, shapes.org_json(orgs.get(app, caller_of(call), org_id))


def _orgs_patch(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    body = call.json
    call.target = Target("organization", org_id)
    paths = patched(body, "name", "description")
    call.fields = {"update_mask": paths}
    org = orgs.update(app, caller_of(call), org_id, paths, shapes.string(body, "name"),
                      shapes.string(body, "description"))
    call.target = Target("organization", org.id, org.name)
    return 200, shapes.org_json(org)


def _orgs_delete(app: App, call: Call) -> tuple[int, Any]:
    org_id = call.path_id("orgID")
    call.target = Target("organization", org_id)
    orgs.delete(app, caller_of(call), org_id)
    return 204, None


# -- buckets ---------------------------------------------------------------------------


def _buckets_list(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    org_id = query_id(call, "orgID")
    org = query_str(call, "org")
    name = query_str(call, "name")
    return _one_or_page(
        call, "buckets", query_id(call, "id"),
        lambda bucket_id: buckets.get(app, caller, bucket_id),
        lambda b: (not name or b.name == name) and (not org_id or b.org_id == org_id)
        and (not org or b.org_name == org),
        lambda size, token: buckets.list_(app, caller, org_id, org, size, token, name),
        shapes.bucket_json,
    )


def _buckets_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    name = shapes.string(body, "name")
    org_id = shapes.string(body, "orgID")
    org = shapes.string(body, "org")
    call.target = Target("bucket", name=name[:256])
    call.fields = {k: v for k, v in (("org_id", org_id[:64]), ("org", org[:256])) if v}
    shapes.string(body, "rp")
    rules = shapes.retention_rules(body)
    bucket = buckets.create(app, caller_of(call), org_id, org, name,
                            shapes.string(body, "description"), rules)
    call.target = Target("bucket", bucket.id, bucket.name)
    call.fields = {"org_id": bucket.org_id, "org": bucket.org_name}
    return 201, shapes.bucket_json(bucket)


def _buckets_get(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    call.target = Target("bucket", bucket_id)
    return 200, shapes.bucket_json(buckets.get(app, caller_of(call), bucket_id))


def _buckets_patch(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    body = call.json
    call.target = Target("bucket", bucket_id)
    given_rules = body.get("retentionRules") is not None
    rules = shapes.retention_rules(body) if given_rules else None
    paths = [{"retentionRules": "retention_rules"}.get(p, p)
             for p in patched(body, "name", "description", "retentionRules")]
    call.fields = {"update_mask": paths}
    bucket = buckets.update(app, caller_of(call), bucket_id, paths,
                            shapes.string(body, "name"), shapes.string(body, "description"),
                            rules)
    call.target = Target("bucket", bucket.id, bucket.name)
    call.fields["org_id"] = bucket.org_id
    return 200, shapes.bucket_json(bucket)


def _buckets_delete(app: App, call: Call) -> tuple[int, Any]:
    bucket_id = call.path_id("bucketID")
    call.target = Target("bucket", bucket_id)
    buckets.delete(app, caller_of(call), bucket_id)
    return 204, None


# -- authorizations ------------------------------------------------------------------------

PRESETS = {"operator": PRESET_OPERATOR, "all-access": PRESET_ALL_ACCESS}


def _auths_list(app: App, call: Call) -> tuple[int, Any]:
    caller = caller_of(call)
    user_id = query_id(call, "userID")
    org_id = query_id(call, "orgID")
    auth_id = query_id(call, "id")
    found, links = pages(
        call, "authorizations",
        lambda size, token: authorizations.list_(
            app, caller, user_id=user_id, user=query_str(call, "user"), org_id=org_id,
            org=query_str(call, "org"), auth_id=auth_id, page_size=size, page_token=token,
        ),
        default_limit=0,  # InfluxDB lists every authorization
    )
    return 200, {"links": links,
                 "authorizations": [shapes.authorization_json(a) for a in found]}


def _auths_create(app: App, call: Call) -> tuple[int, Any]:
    body = call.json
    caller = caller_of(call)
    org_id, org = shapes.string(body, "orgID"), shapes.string(body, "org")
    user_id, user = shapes.string(body, "userID"), shapes.string(body, "user")
    call.target = Target("authorization")
    call.fields = {k: v for k, v in (("org_id", org_id[:64]), ("org", org[:256]),
                                     ("user_id", user_id[:64]), ("user", user[:256])) if v}
    preset_text = shapes.string(body, "preset")
    if preset_text and preset_text not in PRESETS:
        raise InvalidArgument("preset", 'must be "operator" or "all-access"')
    perms = shapes.permissions(body)  # checked by authorizations.create
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
    return 200, shapes.authorization_json(authorizations.get(app, caller_of(call), auth_id))


def _auths_patch(app: App, call: Call) -> tuple[int, Any]:
    # Clients send the whole object back (the token too, after a create): only
    # status and description are read, and the body is never logged.
    auth_id = call.path_id("authID")
    body = call.json
    call.target = Target("authorization", auth_id)
    paths = patched(body, "status", "description")
    call.fields = {"update_mask": paths}
    new_status = shapes.status(body)
    auth = authorizations.update(app, caller_of(call), auth_id, paths, int(new_status or 0),
                                 shapes.string(body, "description"))
    call.fields["status"] = auth.status.name
    return 200, shapes.authorization_json(auth)


def _auths_delete(app: App, call: Call) -> tuple[int, Any]:
    auth_id = call.path_id("authID")
    call.target = Target("authorization", auth_id)
    authorizations.delete(app, caller_of(call), auth_id)
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


