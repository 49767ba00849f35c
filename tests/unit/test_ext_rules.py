"""The ext_authz rules file: parsing, matching, templates (pure code, no I/O)."""

from __future__ import annotations

import pytest

from service.app.ext_rules import (
    ALLOW,
    DENY,
    Request,
    RulesError,
    UnknownName,
    parse_rules,
    parse_template,
    render,
    split_path,
)
from service.domain.errors import InvalidArgument
from service.domain.permissions import Action, Permission, ResourceType

ORG = "0a1b2c3d4e5f6071"
BUCKET = "1b2c3d4e5f607182"
ORGS = {"acme": ORG}
BUCKETS = {(ORG, "telemetry"): BUCKET}

RULES = """
# comment
GET  /health -> allow
POST /api/v2/write query.org query.bucket ->\
write:orgs/{org:query.org}/buckets/{bucket:query.bucket}
GET,HEAD /api/v2/buckets/{bucket_id} header.x-org-id ->\
read:orgs/{header.x-org-id}/buckets/{bucket_id}
GET  /api/v2/buckets/{bucket_id} -> read:buckets/{bucket_id}
*    /api/v2/secret/** -> deny
DELETE /api/v2/buckets/{id} query.force=yes -> write:orgs/0a1b2c3d4e5f6071/buckets/{id}
"""


def req(method: str, raw_path: str, **headers: str) -> Request:
    path, query = split_path(raw_path)
    return Request(method, path, query, {k.replace("_", "-"): v for k, v in headers.items()})


def needed(rules_text: str, request: Request) -> Permission | str | None:
    found = parse_rules(rules_text).find(request)
    if found is None:
        return None
    rule, captures = found
    if isinstance(rule.outcome, str):
        return rule.outcome
    return render(rule.outcome, captures, request, ORGS.get,
                  lambda org, name: BUCKETS.get((org, name)))


def test_first_matching_rule_decides() -> None:
    assert needed(RULES, req("GET", "/health")) == ALLOW
    assert needed(RULES, req("GET", f"/api/v2/buckets/{BUCKET}", x_org_id=ORG)) == Permission(
        Action.READ, ResourceType.BUCKETS, ORG, BUCKET
    )
    # Without the header the next rule fits.
    assert needed(RULES, req("HEAD", f"/api/v2/buckets/{BUCKET}")) is None
    assert needed(RULES, req("GET", f"/api/v2/buckets/{BUCKET}")) == Permission(
        Action.READ, ResourceType.BUCKETS, "", BUCKET
    )


def test_names_resolve_to_ids_and_unknown_names_raise() -> None:
    assert needed(RULES, req("POST", "/api/v2/write?org=acme&bucket=telemetry")) == Permission(
        Action.WRITE, ResourceType.BUCKETS, ORG, BUCKET
    )
    with pytest.raises(UnknownName):
        needed(RULES, req("POST", "/api/v2/write?org=acme&bucket=nope"))
    with pytest.raises(UnknownName):
        needed(RULES, req("POST", "/api/v2/write?org=globex&bucket=telemetry"))


def test_conditions_methods_and_wildcards() -> None:
    # A query condition missing: no rule at all.
    assert needed(RULES, req("POST", "/api/v2/write?org=acme")) is None
    assert needed(RULES, req("PUT", "/health")) is None
    assert needed(RULES, req("PATCH", "/api/v2/secret/a/b/c")) == DENY
    assert needed(RULES, req("GET", "/api/v2/secret")) == DENY  # ** is zero or more
    assert needed(RULES, req("DELETE", f"/api/v2/buckets/{BUCKET}?force=no")) is None
    assert needed(RULES, req("DELETE", f"/api/v2/buckets/{BUCKET}?force=yes")) == Permission(
        Action.WRITE, ResourceType.BUCKETS, ORG, BUCKET
    )
    # Extra or missing segments do not match.
    assert needed(RULES, req("GET", f"/api/v2/buckets/{BUCKET}/extra")) is None
    assert needed(RULES, req("GET", "/api/v2/buckets")) is None


def test_a_value_that_is_not_an_id_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        needed(RULES, req("GET", "/api/v2/buckets/not-an-id"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("GET /x", "expected METHOD PATH"),
        ("GET /x ->", "expected METHOD PATH"),
        ("get /x -> allow", "bad method"),
        ("GET x -> allow", "must start with /"),
        ("GET /a/**/b -> allow", "** must be the last"),
        ("GET /a/{b -> allow", "bad capture"),
        ("GET /{a}/{a} -> allow", "appears twice"),
        ("GET /x cookie.a -> allow", "expected query.NAME"),
        ("GET /x -> admin:buckets", "expected read:... or write:..."),
        ("GET /x -> read:widgets", "unknown resource type"),
        ("GET /x -> read:buckets/{id}", "{id} is not captured"),
        ("GET /x -> read:buckets/notanid", "is not an id"),
        ("GET /x -> read:orgs/{org:query.o}/buckets/{org:query.b}", "needs the orgs"),
        ("GET /x -> read:buckets/{bucket:query.b}", "needs orgs/<org>/buckets"),
        ("GET /x -> read:buckets/{a}b", "malformed placeholder"),
    ],
)
def test_syntax_errors_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(f"# first\n\nGET /ok -> allow\n{text}\n", "rules.txt")
    message = str(info.value)
    assert message.startswith("rules.txt:4: ")
    assert fragment in message
    assert "\n" not in message


def test_template_placeholders() -> None:
    t = parse_template("read:orgs/{header.x-org}/buckets/{query.b}")
    request = req("GET", f"/?b={BUCKET}", x_org=ORG)
    assert render(t, {}, request, ORGS.get, lambda o, n: None) == Permission(
        Action.READ, ResourceType.BUCKETS, ORG, BUCKET
    )
    with pytest.raises(UnknownName):  # a missing value is a deny too
        render(t, {}, req("GET", "/"), ORGS.get, lambda o, n: None)
    # `orgs/<id>` names the org as the resource's id.
    assert render(parse_template("read:orgs/{org:query.o}"), {}, req("GET", "/?o=acme"),
                  ORGS.get, lambda o, n: None) == Permission(Action.READ, ResourceType.ORGS,
                                                             "", ORG)


def test_percent_encoded_segments_are_decoded_before_matching() -> None:
    rules = parse_rules("GET /files/{name} -> allow")
    assert rules.find(req("GET", "/files/a%20b")) is not None
    assert rules.find(req("GET", "/files/a%20b"))[1] == {"name": "a b"}  # type: ignore[index]


def test_the_shipped_example_rules_parse() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "deploy" / "ext-authz.rules"
    rules = parse_rules(path.read_text(), str(path))
    assert len(rules.rules) == 6
