"""Which permission an HTTP request needs: the ext_authz rules file, pure code.

One rule a line, tried in order; the first whose method, path and conditions all
fit decides. Blank lines and lines starting with `#` are ignored.

    METHOD PATH [CONDITION ...] -> OUTCOME

- METHOD: `GET`, `POST`, ... or `*` for any; several as `GET,HEAD`.
- PATH: `/`-separated segments matched against the request path (query string
  left out): a literal, `{name}` (captures one segment), `*` (any one segment), or,
  last, `**` (the rest, zero or more segments).
- CONDITION: `query.NAME` / `header.NAME` (present and non-empty), or
  `query.NAME=VALUE` / `header.NAME=VALUE` (equal). Header names are lowercase.
- OUTCOME: a permission template (`write:orgs/{org_id}/buckets/{bucket_id}`), or
  `allow` (forwarded without a token: health checks, public pages), or `deny`.

A template is a permission in SPEC's text form whose org and id segments may be
placeholders: `{name}` a path capture, `{query.NAME}`, `{header.NAME}`,
`{org:SOURCE}` the id of the organization whose *name* SOURCE holds, and
`{bucket:SOURCE}` the id of the bucket of that name in the permission's org
(so `write:orgs/{org:query.org}/buckets/{bucket:query.bucket}`). A request that
matches no rule is denied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from service.domain.errors import InvalidArgument
from service.domain.permissions import Action, Permission, ResourceType, check_permission

ALLOW = "allow"
DENY = "deny"

_PLACEHOLDER = re.compile(r"^\{([^{}]+)\}$")
_SOURCE = re.compile(r"^(?:query|header)\.[^\s.=]+$|^[A-Za-z_][A-Za-z0-9_]*$")
_METHOD = re.compile(r"^[A-Z]+$")


class RulesError(ValueError):
    """A syntax error in a rules file or template; the message names the line."""


class UnknownName(LookupError):
    """A placeholder resolved an org or bucket name that does not exist (or a
    value is missing): the request is denied, not failed."""


@dataclass(frozen=True, slots=True)
class Request:
    """What a rule is matched against. Header names lowercase."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


def split_path(raw: str) -> tuple[str, dict[str, str]]:
    """The path (percent-decoded per segment later) and its query parameters (the
    first value of each name)."""
    path, _, query = raw.partition("?")
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, value)
    return path, params


# -- templates ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """One org or id segment: a literal, or where its value comes from."""

    literal: str = ""
    source: str = ""  # "name", "query.x", "header.x"
    resolve: str = ""  # "", "org" or "bucket"


def _slot(text: str, where: str) -> Slot:
    m = _PLACEHOLDER.match(text)
    if m is None:
        if "{" in text or "}" in text:
            raise RulesError(f"{where}: malformed placeholder {text!r}")
        return Slot(literal=text)
    inner = m.group(1)
    resolve = ""
    if inner.startswith(("org:", "bucket:")):
        resolve, _, inner = inner.partition(":")
    if not _SOURCE.match(inner):
        raise RulesError(f"{where}: bad placeholder {text!r}")
    return Slot(source=inner, resolve=resolve)


@dataclass(frozen=True, slots=True)
class Template:
    """A permission with placeholders, parsed once."""

    text: str
    action: Action
    type: ResourceType
    org: Slot | None
    id: Slot | None

    @property
    def captures(self) -> set[str]:
        return {s.source for s in (self.org, self.id) if s and s.source and "." not in s.source}


def parse_template(text: str, where: str = "permission") -> Template:
    """`read:orgs/{org_id}/buckets/{id}` and the like; RulesError when malformed."""
    action_text, sep, path = text.partition(":")
    if not sep or action_text not in ("read", "write"):
        raise RulesError(f"{where}: expected read:... or write:..., got {text!r}")
    parts = path.split("/")
    if "" in parts:
        raise RulesError(f"{where}: empty segment in {text!r}")
    org: Slot | None = None
    if len(parts) >= 3 and parts[0] == "orgs":
        org = _slot(parts[1], where)
        parts = parts[2:]
    if len(parts) not in (1, 2):
        raise RulesError(f"{where}: too many segments in {text!r}")
    try:
        rtype = ResourceType.from_spelling(parts[0])
    except ValueError as exc:
        raise RulesError(f"{where}: {exc}") from None
    rid = _slot(parts[1], where) if len(parts) == 2 else None
    if org is not None and org.resolve == "bucket":
        raise RulesError(f"{where}: an org segment cannot resolve a bucket name")
    in_org_buckets = org is not None and rtype == ResourceType.BUCKETS
    if rid is not None and rid.resolve == "bucket" and not in_org_buckets:
        raise RulesError(f"{where}: {{bucket:...}} needs orgs/<org>/buckets/{{bucket:...}}")
    if rid is not None and rid.resolve == "org" and rtype != ResourceType.ORGS:
        raise RulesError(f"{where}: {{org:...}} as an id needs the orgs resource type")
    try:
        # Literal ids must be ids now, not at the first request.
        check_permission(where, Permission(Action[action_text.upper()], rtype,
                                           org.literal if org else "", rid.literal if rid else ""))
    except InvalidArgument as exc:
        raise RulesError(f"{where}: {exc.message}") from None
    return Template(text, Action[action_text.upper()], rtype, org, rid)


# Resolvers: org name -> id, (org id, bucket name) -> id; None when unknown.
OrgResolver = Callable[[str], "str | None"]
BucketResolver = Callable[[str, str], "str | None"]


def _value(slot: Slot, captures: Mapping[str, str], request: Request) -> str:
    if slot.literal:
        return slot.literal
    kind, _, name = slot.source.partition(".")
    if not name:
        value = captures.get(slot.source)
    elif kind == "query":
        value = request.query.get(name)
    else:
        value = request.headers.get(name)
    if not value:
        raise UnknownName(f"{slot.source} is missing")
    return value


def render(
    template: Template,
    captures: Mapping[str, str],
    request: Request,
    org_id_of: OrgResolver,
    bucket_id_of: BucketResolver,
) -> Permission:
    """The permission a request needs. UnknownName for a missing value or an
    unknown name; InvalidArgument when a value is not an id."""

    def resolved(slot: Slot | None, org_id: str) -> str:
        if slot is None:
            return ""
        value = _value(slot, captures, request)
        if slot.resolve == "org":
            found, what = org_id_of(value), "organization"
        elif slot.resolve == "bucket":
            found, what = bucket_id_of(org_id, value), "bucket"
        else:
            return value
        if found is None:
            raise UnknownName(f"no {what} named {value!r}")
        return found

    org_id = resolved(template.org, "")
    rid = resolved(template.id, org_id)
    return check_permission("permission", Permission(template.action, template.type, org_id, rid))


# -- rules -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    line: int
    methods: frozenset[str]  # empty: any
    segments: tuple[str, ...]  # literal, "{name}", "*", "**"
    conditions: tuple[tuple[str, str, str | None], ...]  # (query|header, name, value)
    outcome: str | Template  # ALLOW, DENY or a template

    def match(self, request: Request, segments: list[str]) -> dict[str, str] | None:
        """The path captures when this rule fits the request, else None."""
        if self.methods and request.method not in self.methods:
            return None
        captures: dict[str, str] = {}
        pattern = self.segments
        for i, want in enumerate(pattern):
            if want == "**":
                break
            if i >= len(segments):
                return None
            got = segments[i]
            if want.startswith("{"):
                captures[want[1:-1]] = got
            elif want != "*" and want != got:
                return None
        else:
            if len(segments) != len(pattern):
                return None
        for kind, name, value in self.conditions:
            sent = (request.query if kind == "query" else request.headers).get(name)
            if not sent if value is None else sent != value:
                return None
        return captures


@dataclass(frozen=True, slots=True)
class Rules:
    rules: tuple[Rule, ...]
    source: str = ""

    def find(self, request: Request) -> tuple[Rule, dict[str, str]] | None:
        """The first rule that fits, with its captures; None when none does."""
        segments = [unquote(s) for s in request.path.split("/")[1:]]
        for rule in self.rules:
            captures = rule.match(request, segments)
            if captures is not None:
                return rule, captures
        return None


def _path(text: str, where: str) -> tuple[str, ...]:
    if not text.startswith("/"):
        raise RulesError(f"{where}: the path must start with /, got {text!r}")
    segments = tuple(text.split("/")[1:])
    names: set[str] = set()
    for i, seg in enumerate(segments):
        if seg == "**":
            if i != len(segments) - 1:
                raise RulesError(f"{where}: ** must be the last segment")
        elif seg.startswith("{") or seg.endswith("}"):
            m = _PLACEHOLDER.match(seg)
            if m is None or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", m.group(1)):
                raise RulesError(f"{where}: bad capture {seg!r}")
            if m.group(1) in names:
                raise RulesError(f"{where}: capture {seg!r} appears twice")
            names.add(m.group(1))
        elif "{" in seg or "}" in seg or "*" in seg:
            raise RulesError(f"{where}: bad path segment {seg!r}")
    return segments


def _condition(text: str, where: str) -> tuple[str, str, str | None]:
    key, eq, value = text.partition("=")
    kind, dot, name = key.partition(".")
    if kind not in ("query", "header") or not dot or not name:
        raise RulesError(f"{where}: expected query.NAME[=VALUE] or header.NAME[=VALUE], "
                         f"got {text!r}")
    if kind == "header":
        name = name.lower()
    return kind, name, value if eq else None


def parse_rule(text: str, line: int, where: str) -> Rule:
    head, arrow, outcome_text = text.partition("->")
    if not arrow:
        raise RulesError(f"{where}: expected METHOD PATH [CONDITION ...] -> PERMISSION")
    words = head.split()
    outcome_text = outcome_text.strip()
    if len(words) < 2 or not outcome_text or " " in outcome_text:
        raise RulesError(f"{where}: expected METHOD PATH [CONDITION ...] -> PERMISSION")
    methods: frozenset[str] = frozenset()
    if words[0] != "*":
        methods = frozenset(words[0].split(","))
        bad = [m for m in methods if not _METHOD.match(m)]
        if bad:
            raise RulesError(f"{where}: bad method {bad[0]!r} (uppercase, or *)")
    segments = _path(words[1], where)
    conditions = tuple(_condition(w, where) for w in words[2:])
    outcome: str | Template
    if outcome_text in (ALLOW, DENY):
        outcome = outcome_text
    else:
        outcome = parse_template(outcome_text, where)
        captured = {s[1:-1] for s in segments if s.startswith("{")}
        missing = sorted(outcome.captures - captured)
        if missing:
            raise RulesError(f"{where}: {{{missing[0]}}} is not captured by the path")
    return Rule(line, methods, segments, conditions, outcome)


def parse_rules(text: str, source: str = "rules") -> Rules:
    """Every rule of a rules file; RulesError naming `source:line` at the first
    error."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rules.append(parse_rule(line, number, f"{source}:{number}"))
    return Rules(tuple(rules), source)


def load_rules(path: str) -> Rules:
    """Read and parse a rules file; RulesError (one line) on any problem."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read the ext_authz rules file {path}: {exc}") from None
    return parse_rules(text, path)
