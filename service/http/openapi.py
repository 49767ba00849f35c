"""The OpenAPI 3 document of the HTTP API, served at GET /api/v2/openapi.json.

Paths and operations come from app.ENDPOINTS (so a new endpoint cannot be left
out); bodies and schemas are described here, with InfluxDB's field names."""

from __future__ import annotations

import re
from typing import Any

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": "string", "format": "date-time", "nullable": True}
_STATUS = {"type": "string", "enum": ["active", "inactive"]}
_LINKS = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS: Json = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "type": "string",
                "enum": ["invalid", "unauthorized", "forbidden", "not found", "conflict",
                         "too many requests", "unavailable", "internal error",
                         "request too large", "method not allowed"],
            },
            "message": {"type": "string"},
        },
    },
    "Resource": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "example": "buckets"},
            "id": {"type": "string"},
            "orgID": {"type": "string"},
        },
    },
    "Permission": {
        "type": "object",
        "required": ["action", "resource"],
        "properties": {
            "action": {"type": "string", "enum": ["read", "write"]},
            "resource": _ref("Resource"),
        },
    },
    "Authorization": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "token": {"type": "string", "readOnly": True,
                      "description": "Only in the response to a create."},
            "status": _STATUS,
            "description": {"type": "string"},
            "orgID": {"type": "string"},
            "org": {"type": "string"},
            "userID": {"type": "string"},
            "user": {"type": "string"},
            "permissions": {"type": "array", "items": _ref("Permission")},
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "kind": {"type": "string", "enum": ["operator", "all-access", "custom"],
                     "readOnly": True},
            "tokenHint": {"type": "string", "readOnly": True},
            "expiresAt": _TIME_OR_NULL,
            "lastUsedAt": _TIME_OR_NULL,
            "links": _LINKS,
        },
    },
    "AuthorizationPostRequest": {
        "type": "object",
        "properties": {
            "orgID": {"type": "string"},
            "org": {"type": "string"},
            "userID": {"type": "string"},
            "user": {"type": "string"},
            "description": {"type": "string"},
            "status": _STATUS,
            "permissions": {"type": "array", "items": _ref("Permission")},
            "preset": {"type": "string", "enum": ["operator", "all-access"]},
            "expiresAt": _TIME,
        },
    },
    "AuthorizationUpdateRequest": {
        "type": "object",
        "properties": {"status": _STATUS, "description": {"type": "string"}},
    },
    "Authorizations": {
        "type": "object",
        "properties": {"links": _LINKS,
                       "authorizations": {"type": "array", "items": _ref("Authorization")}},
    },
    "User": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string"},
            "status": _STATUS,
            "password": {"type": "string", "writeOnly": True},
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "links": _LINKS,
        },
    },
    "Users": {
        "type": "object",
        "properties": {"links": _LINKS, "users": {"type": "array", "items": _ref("User")}},
    },
    "PasswordResetBody": {
        "type": "object",
        "required": ["password"],
        "properties": {
            "password": {"type": "string"},
            "oldPassword": {"type": "string",
                            "description": "Needed when users change their own password "
                                           "(or give it as Basic auth)."},
        },
    },
    "Organization": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "status": _STATUS,
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "links": _LINKS,
        },
    },
    "Organizations": {
        "type": "object",
        "properties": {"links": _LINKS, "orgs": {"type": "array", "items": _ref("Organization")}},
    },
    "RetentionRule": {
        "type": "object",
        "properties": {"type": {"type": "string", "default": "expire"},
                       "everySeconds": {"type": "integer", "minimum": 0}},
        "description": "Stored with the bucket and returned as given; "
        "authzd does not act on retention.",
    },
    "Bucket": {
        "type": "object",
        "required": ["name", "retentionRules"],
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "type": {"type": "string", "enum": ["user"]},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "orgID": {"type": "string"},
            "org": {"type": "string"},
            "rp": {"type": "string"},
            "retentionRules": {"type": "array", "items": _ref("RetentionRule")},
            "labels": {"type": "array", "items": {"type": "object"}},
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "links": _LINKS,
        },
    },
    "Buckets": {
        "type": "object",
        "properties": {"links": _LINKS, "buckets": {"type": "array", "items": _ref("Bucket")}},
    },
    "OnboardingRequest": {
        "type": "object",
        "required": ["username", "password", "org", "bucket"],
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string"},
            "org": {"type": "string"},
            "bucket": {"type": "string"},
            "retentionPeriodSeconds": {"type": "integer"},
            "retentionPeriodHrs": {"type": "integer"},
        },
    },
    "OnboardingResponse": {
        "type": "object",
        "properties": {"user": _ref("User"), "org": _ref("Organization"),
                       "bucket": _ref("Bucket"), "auth": _ref("Authorization")},
    },
    "IsOnboarding": {"type": "object", "properties": {"allowed": {"type": "boolean"}}},
    "HealthCheck": {
        "type": "object",
        "required": ["name", "status"],
        "properties": {
            "name": {"type": "string"},
            "message": {"type": "string"},
            "status": {"type": "string", "enum": ["pass", "fail"]},
            "checks": {"type": "array", "items": {"type": "object"}},
            "version": {"type": "string"},
            "commit": {"type": "string"},
        },
    },
    "Ready": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["ready"]}, "started": _TIME,
                       "up": {"type": "string"}},
    },
    "CheckRequest": {
        "type": "object",
        "required": ["token", "permission"],
        "properties": {"token": {"type": "string"}, "permission": _ref("Permission")},
    },
    "CheckResponse": {
        "type": "object",
        "properties": {
            "allowed": {"type": "boolean"},
            "reason": {"type": "string",
                       "enum": ["ALLOWED", "TOKEN_UNKNOWN", "TOKEN_INACTIVE", "TOKEN_EXPIRED",
                                "USER_INACTIVE", "NO_MATCHING_PERMISSION"]},
            "matchedPermission": {"allOf": [_ref("Permission")], "nullable": True},
            "authorizationID": {"type": "string"},
            "userID": {"type": "string"},
            "orgID": {"type": "string"},
        },
    },
}

# (method, path) -> (request schema or None, success status, response schema or None)
BODIES: dict[tuple[str, str], tuple[str | None, int, str | None]] = {
    ("GET", "/health"): (None, 200, "HealthCheck"),
    ("GET", "/api/v2/setup"): (None, 200, "IsOnboarding"),
    ("POST", "/api/v2/setup"): ("OnboardingRequest", 201, "OnboardingResponse"),
    ("POST", "/api/v2/signin"): (None, 204, None),
    ("POST", "/api/v2/signout"): (None, 204, None),
    ("GET", "/api/v2/me"): (None, 200, "User"),
    ("PUT", "/api/v2/me/password"): ("PasswordResetBody", 204, None),
    ("GET", "/api/v2/users"): (None, 200, "Users"),
    ("POST", "/api/v2/users"): ("User", 201, "User"),
    ("GET", "/api/v2/users/{userID}"): (None, 200, "User"),
    ("PATCH", "/api/v2/users/{userID}"): ("User", 200, "User"),
    ("DELETE", "/api/v2/users/{userID}"): (None, 204, None),
    ("POST", "/api/v2/users/{userID}/password"): ("PasswordResetBody", 204, None),
    ("GET", "/api/v2/orgs"): (None, 200, "Organizations"),
    ("POST", "/api/v2/orgs"): ("Organization", 201, "Organization"),
    ("GET", "/api/v2/orgs/{orgID}"): (None, 200, "Organization"),
    ("PATCH", "/api/v2/orgs/{orgID}"): ("Organization", 200, "Organization"),
    ("DELETE", "/api/v2/orgs/{orgID}"): (None, 204, None),
    ("GET", "/api/v2/buckets"): (None, 200, "Buckets"),
    ("POST", "/api/v2/buckets"): ("Bucket", 201, "Bucket"),
    ("GET", "/api/v2/buckets/{bucketID}"): (None, 200, "Bucket"),
    ("PATCH", "/api/v2/buckets/{bucketID}"): ("Bucket", 200, "Bucket"),
    ("DELETE", "/api/v2/buckets/{bucketID}"): (None, 204, None),
    ("GET", "/api/v2/authorizations"): (None, 200, "Authorizations"),
    ("POST", "/api/v2/authorizations"): ("AuthorizationPostRequest", 201, "Authorization"),
    ("GET", "/api/v2/authorizations/{authID}"): (None, 200, "Authorization"),
    ("PATCH", "/api/v2/authorizations/{authID}"): ("AuthorizationUpdateRequest", 200,
                                                    "Authorization"),
    ("DELETE", "/api/v2/authorizations/{authID}"): (None, 204, None),
    ("POST", "/api/v2/check"): ("CheckRequest", 200, "CheckResponse"),
}

QUERY: dict[tuple[str, str], list[str]] = {
    ("GET", "/api/v2/users"): ["id", "name", "limit", "offset", "after"],
    ("GET", "/api/v2/orgs"): ["orgID", "org", "limit", "offset", "after"],
    ("GET", "/api/v2/buckets"): ["id", "orgID", "org", "name", "limit", "offset", "after"],
    ("GET", "/api/v2/authorizations"): ["userID", "user", "orgID", "org", "id"],
}
_INTEGER_QUERY = {"limit", "offset"}

_ERRORS = {
    "400": "invalid: the field named in the message",
    "401": "unauthorized",
    "403": "forbidden (also a cross-site request authenticated by cookie)",
    "404": "not found",
    "409": "conflict",
    "413": "request too large (above 1 MiB)",
    "422": "conflict: the name is taken, or setup was already done",
    "429": "too many requests",
    "500": "internal error",
    "503": "unavailable",
}


def _operation(ep: Any) -> Json:
    request, ok, response = BODIES[(ep.method, ep.path)]
    op: Json = {
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{ep.method.lower()}{ep.path}").strip("_"),
        "summary": ep.summary or ep.path,
        "responses": {},
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", ep.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False,
         "schema": {"type": "integer" if name in _INTEGER_QUERY else "string"}}
        for name in QUERY.get((ep.method, ep.path), [])
    ]
    if params:
        op["parameters"] = params
    if request is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(request)}}}
    if ok == 204:
        op["responses"]["204"] = {"description": "done"}
    else:
        op["responses"][str(ok)] = {
            "description": "success",
            "content": {"application/json": {"schema": _ref(response or "Error")}},
        }
    for status, text in _ERRORS.items():
        op["responses"][status] = {
            "description": text,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    if ep.auth == "none":
        op["security"] = [] if ep.path != "/api/v2/signin" else [{"basic": []}]
    return op


def document(endpoints: list[Any]) -> Json:
    paths: Json = {
        "/ping": {
            "get": {"operationId": "get_ping", "summary": "Liveness", "security": [],
                    "responses": {"204": {"description": "alive"}}},
            "head": {"operationId": "head_ping", "summary": "Liveness", "security": [],
                     "responses": {"204": {"description": "alive"}}},
        },
        "/ready": {
            "get": {"operationId": "get_ready", "summary": "Readiness", "security": [],
                    "responses": {"200": {"description": "ready", "content": {
                        "application/json": {"schema": _ref("Ready")}}}}},
        },
        "/api/v2/openapi.json": {
            "get": {"operationId": "get_openapi", "summary": "This document", "security": [],
                    "responses": {"200": {"description": "OpenAPI 3",
                                          "content": {"application/json": {
                                              "schema": {"type": "object"}}}}}},
        },
    }
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "authzd HTTP API",
            "version": "0.1.0",
            "description": "InfluxDB 2.x-compatible management of tokens, users, "
                           "organizations and buckets, plus authzd's own /api/v2/check.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "`Token <token>` or `Bearer <token>`"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "authzd_session"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{"token": []}, {"cookie": []}],
    }
