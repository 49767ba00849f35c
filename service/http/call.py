"""One HTTP request as the handlers see it (`Call`), the row of the endpoint
table (`Endpoint`), and the small readers the handlers share: query values,
InfluxDB's paging, PATCH fields, Basic credentials, the session cookie."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from service.app.audit import Target
from service.app.caller import Caller
from service.app.context import App
from service.app.validate import next_page_token
from service.domain.errors import InvalidArgument
from service.domain.ids import check_id

from . import shapes

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


def caller_of(call: Call) -> Caller:
    assert call.caller is not None
    return call.caller


def query_str(call: Call, key: str) -> str:
    return call.query.get(key, "")


def query_int(call: Call, key: str, default: int, low: int, high: int) -> int:
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


def query_id(call: Call, key: str) -> str:
    value = query_str(call, key)
    return check_id(key, value) if value else ""


def pages(
    call: Call,
    kind: str,
    fetch: Callable[[int, str], tuple[list[Any], str]],
    *,
    default_limit: int = DEFAULT_LIMIT,
) -> tuple[list[Any], Json]:
    """A window of a list use case, with InfluxDB's `limit`/`offset`/`after`
    (default_limit 0: every item unless `limit` is given), and its links: `next`
    (relative, `after` the last id) when more items follow."""
    limit = query_int(call, "limit", default_limit, 1, MAX_LIMIT)
    offset = query_int(call, "offset", 0, 0, 1_000_000)
    after = query_id(call, "after")
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


def patched(body: Mapping[str, Any], *names: str) -> list[str]:
    """The updatable fields a PATCH body names (null counts as absent)."""
    chosen = [n for n in names if body.get(n) is not None]
    if not chosen:
        raise InvalidArgument("body", f"nothing to update; updatable: {', '.join(names)}")
    return chosen


def basic_credentials(call: Call) -> tuple[str, str] | None:
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


def session_cookie(token: str, max_age: int, secure: bool) -> str:
    attrs = f"{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return attrs + "; Secure" if secure else attrs

