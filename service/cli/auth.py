"""`authzd auth create|list|active|inactive|delete`: API tokens (SPEC §3, §7)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain.permissions import Action, Permission, ResourceType
from service.domain.presets import PRESET_ALL_ACCESS, PRESET_OPERATOR

from . import output
from .common import (
    add_org_flags,
    add_page_size,
    id_flag,
    org_choice,
    org_name,
    org_names_in_errors,
    pages,
)
from .config import resolve_target
from .errors import CliError
from .rpc import Client

# The 22 types a --read-<type>/--write-<type> flag may name (instance is only
# reachable through --operator).
TYPES = [t for t in ResourceType if t is not ResourceType.INSTANCE]
SHOWN_ONCE = "This token will not be shown again: copy it now (authzd keeps only its digest)."

MAX_EXPIRES_IN = 100 * 365 * 86400  # beyond this, leave --expires-in out (never)
_DURATION = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _flag(action: Action, t: ResourceType) -> str:
    # Org-wide buckets are spelled `--read-all-buckets`: `--read-buckets` was one
    # letter from `--read-bucket ID` and silently granted every bucket.
    if t is ResourceType.BUCKETS:
        return f"--{action.spelling}-all-buckets"
    return f"--{action.spelling}-{t.spelling}"


class _NearMiss(argparse.Action):
    """`--read-buckets` / `--write-buckets`: refused with the two spellings it may mean."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        action = option.removeprefix("--").split("-")[0]
        raise CliError(f"{option} is not a flag: --{action}-bucket ID grants one bucket, "
                       f"--{action}-all-buckets every bucket of the organization")


def _dest(action: Action, t: ResourceType) -> str:
    return f"perm_{action.spelling}_{t.name.lower()}"


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    auth = sub.add_parser("auth", help="API tokens: create, list, show, active, inactive, "
                          "delete",
                          description="Manage API tokens (authorizations).")
    verbs = auth.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    _add_create(verbs, common)

    p = verbs.add_parser("list", parents=[common], help="list the tokens this token may read",
                         description="List tokens (every page), optionally filtered: one line "
                         "a token, its Kind (Operator, All-Access or Custom, with the number "
                         "of permissions) and a permission summary. " + output.LAST_USED_NOTE)
    p.add_argument("--permissions", action="store_true",
                   help="one line per permission instead of the summary (or see `authzd auth "
                        "show --id ID`)")
    p.add_argument("--id", help="only the token with this ID")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--user", help="only tokens owned by this user (name)")
    g.add_argument("--user-id", metavar="ID", help="only tokens owned by this user (ID)")
    add_org_flags(p, "only tokens of this organization", default_note=False)
    add_page_size(p)
    p.set_defaults(func=run_list)

    p = verbs.add_parser("show", parents=[common], help="one token with all its permissions",
                         description="Show one token: every field and every permission. "
                         + output.LAST_USED_NOTE)
    p.add_argument("--id", required=True, help="the token's ID (see `authzd auth list`)")
    p.set_defaults(func=run_show)

    for verb, text in (("active", "activate a token"), ("inactive", "deactivate a token "
                       "(it is refused with TOKEN_INACTIVE until activated again)")):
        p = verbs.add_parser(verb, parents=[common], help=text, description=text[0].upper()
                             + text[1:] + ".")
        p.add_argument("--id", required=True, help="the token's ID (see `authzd auth list`)")
        p.set_defaults(func=run_status, status=1 if verb == "active" else 2)

    p = verbs.add_parser("delete", parents=[common], help="delete a token for good",
                         description="Delete a token for good.")
    p.add_argument("--id", required=True, help="the token's ID (see `authzd auth list`)")
    p.set_defaults(func=run_delete)


def _add_create(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = verbs.add_parser(
        "create",
        parents=[common],
        help="mint a token (shown once)",
        usage="authzd auth create (--org NAME | --org-id ID) [--user NAME | --user-id ID] "
        "[--description TEXT] [--expires-in DURATION] (--operator | --all-access | "
        "--read-bucket ID ... | --write-bucket ID ... | --read-all-buckets | --read-<type> ... | "
        "--write-<type> ...)",
        description="Mint an API token in one organization and print it once. Choose what it "
        "may do with --operator, --all-access, or any mix of --read-bucket/--write-bucket IDs "
        "and --read-<type>/--write-<type> flags (each grants that action on every resource "
        "of the type in the organization; --read-orgs/--write-orgs grant it on the "
        "organization itself). Every bucket of the organization is --read-all-buckets / "
        "--write-all-buckets: spelled apart from --read-bucket ID so that one letter cannot "
        "turn a one-bucket token into an org-wide one. With --quiet only the token is printed.",
    )
    add_org_flags(p, "the token's organization")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--user", help="the owner, by name (default: the caller's user)")
    g.add_argument("--user-id", metavar="ID", help="the owner, by ID")
    p.add_argument("--description", default="", help="free text to tell the token apart")
    p.add_argument("--expires-in", metavar="DURATION",
                   help="stop working after this long, e.g. 90d, 12h, 90m, 1h30m "
                        "(default: never)")
    kinds = p.add_argument_group("token kinds (choose one, or permission flags)")
    kinds.add_argument("--operator", action="store_true",
                       help="read+write on everything, the instance included (only an "
                            "Operator token can create one)")
    kinds.add_argument("--all-access", action="store_true",
                       help="read+write on everything in the organization")
    perms = p.add_argument_group("permissions in the organization (repeatable, combinable)")
    perms.add_argument("--read-bucket", action="append", default=[], metavar="ID",
                       help="read one bucket, by ID (see `authzd bucket list`)")
    perms.add_argument("--write-bucket", action="append", default=[], metavar="ID",
                       help="write one bucket, by ID")
    for near_miss in ("--read-buckets", "--write-buckets"):
        perms.add_argument(near_miss, nargs="?", action=_NearMiss, help=argparse.SUPPRESS)
    for t in TYPES:
        for action in Action:
            what = "the organization itself" if t is ResourceType.ORGS else f"all {t.spelling}"
            if t is ResourceType.BUCKETS:
                what = "every bucket of the organization (org-wide)"
            perms.add_argument(_flag(action, t), dest=_dest(action, t), action="store_true",
                               help=f"{action.spelling} {what}")
    p.set_defaults(func=run_create)


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `90m`, `1h30m`, `2w`; at least one second."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    valid = parts and "".join(n + u for n, u in parts) == compact
    if not valid or not 0 < seconds <= MAX_EXPIRES_IN:
        raise CliError(f"--expires-in {text!r}: give a duration such as 30d, 12h, 90m or 1h30m "
                       "(at most 100 years)")
    return timedelta(seconds=seconds)


def _permission_flags(args: argparse.Namespace) -> list[tuple[str, Action, ResourceType, str]]:
    """(flag, action, type, bucket id) for every permission flag given, in a fixed order."""
    chosen: list[tuple[str, Action, ResourceType, str]] = []
    for t in TYPES:
        for action in Action:
            if getattr(args, _dest(action, t)):
                chosen.append((_flag(action, t), action, t, ""))
    for action, ids in ((Action.READ, args.read_bucket), (Action.WRITE, args.write_bucket)):
        flag = f"--{action.spelling}-bucket"
        for bucket_id in ids:
            chosen.append((flag, action, ResourceType.BUCKETS, bucket_id))
    return chosen


def _check_kind(args: argparse.Namespace, chosen: list[Any]) -> int:
    if args.operator and args.all_access:
        raise CliError("--operator and --all-access cannot be combined; choose one")
    preset_flag = "--operator" if args.operator else "--all-access" if args.all_access else ""
    if preset_flag and chosen:
        raise CliError(f"{preset_flag} cannot be combined with {chosen[0][0]}: it is a complete "
                       "permission list; drop one of them")
    if not preset_flag and not chosen:
        raise CliError("say what the token may do: --operator, --all-access, --read-bucket ID, "
                       "--write-bucket ID or --read-<type>/--write-<type> (see `authzd auth "
                       "create --help`)")
    return PRESET_OPERATOR if args.operator else PRESET_ALL_ACCESS if args.all_access else 0


def _org_id(client: Client, org: dict[str, str]) -> str:
    """Explicit permissions name the org by ID: look a name up."""
    if "org_id" in org:
        return org["org_id"]
    from authzd.v1 import organization_service_pb2 as pb

    stub = client.orgs
    found = client.call(stub.ListOrganizations, pb.ListOrganizationsRequest(name=org["org"]))
    for o in found.organizations:
        if o.name == org["org"]:
            return str(o.id)
    raise CliError(f"organization {org['org']!r} not found (or this token cannot read it) — "
                   "see `authzd org list`")


def _check_buckets(client: Client, org: dict[str, str], org_id: str, ids: list[str]) -> None:
    """Every --read-bucket/--write-bucket ID is a bucket of the token's org, said
    with names (`no bucket X in organization acme`). When this token cannot list
    the buckets, the server's own check answers instead."""
    from authzd.v1 import bucket_service_pb2 as pb

    stub = client.buckets
    try:
        known = {b.id for b in pages(lambda token: client.call(
            stub.ListBuckets, pb.ListBucketsRequest(org_id=org_id, page_token=token)),
            "buckets")}
    except CliError:
        return
    for bucket_id in ids:
        if bucket_id not in known:
            name = org.get("org") or org_name(client, org_id)
            raise CliError(f"no bucket {bucket_id} in organization {name} — see `authzd bucket "
                           f"list --org {name}`")


def run_create(args: argparse.Namespace) -> int:
    chosen = [(flag, action, t, id_flag(bucket_id, flag, "a bucket", "bucket") if bucket_id
               else "") for flag, action, t, bucket_id in _permission_flags(args)]
    preset = _check_kind(args, chosen)
    expires = parse_duration(args.expires_in) if args.expires_in else None
    target = resolve_target(args)
    org = org_choice(args, target, required=True)
    user: dict[str, str] = {}
    if args.user_id:
        user["user_id"] = id_flag(args.user_id, "--user-id", "a user", "user", "--user")
    elif args.user:
        user["user"] = args.user

    from authzd.v1 import authorization_service_pb2 as pb
    from authzd.v1 import types_pb2

    with Client(target) as client:
        request = pb.CreateAuthorizationRequest(description=args.description)
        request.preset = preset  # type: ignore[assignment]
        for key, value in {**org, **user}.items():
            setattr(request, key, value)
        if chosen:
            org_id = _org_id(client, org)
            _check_buckets(client, org, org_id, [b for *_, b in chosen if b])
            seen: set[Permission] = set()
            for _, action, t, bucket_id in chosen:
                if t is ResourceType.ORGS:  # `orgs/O/orgs` would match nothing (SPEC §2)
                    p = Permission(action, t, id=org_id)
                else:
                    p = Permission(action, t, org_id=org_id, id=bucket_id)
                if p in seen:
                    continue
                seen.add(p)
                request.permissions.append(types_pb2.Permission(
                    action=p.action.value,  # type: ignore[arg-type]
                    resource=types_pb2.Resource(type=p.type.value,  # type: ignore[arg-type]
                                                org_id=p.org_id, id=p.id)))
        if expires is not None:
            request.expire_time.FromDatetime(datetime.now(UTC) + expires)
        stub = client.auths
        try:
            with org_names_in_errors(client):
                r = client.call(stub.CreateAuthorization, request)
        except CliError as err:
            if preset == PRESET_OPERATOR and err.code == "PERMISSION_DENIED":
                raise CliError(
                    "only an Operator token can create an Operator token, and the token from "
                    f"{target.token_source} is not one — use the Operator token `authzd setup` "
                    "saved, or mint one with `authzd recovery auth create-operator`",
                    err.code) from None
            raise
    record = output.authorization_record(r.authorization)
    if getattr(args, "quiet", False):
        output.emit(r.token)  # `TOKEN=$(authzd auth create ... --quiet)`
        return 0
    if getattr(args, "json", False):
        output.emit_json({"authorization": record, "token": r.token})
        sys.stderr.write(SHOWN_ONCE + "\n")
        return 0
    output.emit(output.table([record], output.AUTH_COLUMNS))
    output.emit("")
    output.emit(f"Token: {r.token}")
    output.emit(SHOWN_ONCE)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from authzd.v1 import authorization_service_pb2 as pb

    filters: dict[str, str] = {}
    if args.id:
        filters["id"] = id_flag(args.id, "--id", "a token", "auth")
    if args.user_id:
        filters["user_id"] = id_flag(args.user_id, "--user-id", "a user", "user", "--user")
    elif args.user:
        filters["user"] = args.user
    target = resolve_target(args)
    filters.update(org_choice(args, target, required=False))
    with Client(target) as client:
        stub = client.auths
        def page(token: str) -> Any:
            return client.call(stub.ListAuthorizations, pb.ListAuthorizationsRequest(
                page_size=args.page_size, page_token=token, **filters))

        items = pages(page, "authorizations")
        records = [output.authorization_record(a) for a in items]
    output.show(args, records, output.AUTH_COLUMNS)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from authzd.v1 import authorization_service_pb2 as pb

    auth_id = id_flag(args.id, "--id", "a token", "auth")
    with Client(resolve_target(args)) as client:
        stub = client.auths
        r = client.call(stub.GetAuthorization, pb.GetAuthorizationRequest(id=auth_id))
    record = output.authorization_record(r.authorization)
    if getattr(args, "json", False):
        output.emit_json(record)
    else:
        output.emit(output.auth_fields(record))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from authzd.v1 import authorization_service_pb2 as pb
    from authzd.v1 import types_pb2
    from google.protobuf import field_mask_pb2

    auth_id = id_flag(args.id, "--id", "a token", "auth")
    with Client(resolve_target(args)) as client:
        stub = client.auths
        r = client.call(stub.UpdateAuthorization, pb.UpdateAuthorizationRequest(
            authorization=types_pb2.Authorization(id=auth_id, status=args.status),
            update_mask=field_mask_pb2.FieldMask(paths=["status"])))
    output.show(args, output.authorization_record(r.authorization), output.AUTH_COLUMNS)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from authzd.v1 import authorization_service_pb2 as pb

    auth_id = id_flag(args.id, "--id", "a token", "auth")
    with Client(resolve_target(args)) as client:
        stub = client.auths
        client.call(stub.DeleteAuthorization, pb.DeleteAuthorizationRequest(id=auth_id))
    if getattr(args, "json", False):
        output.emit_json({"id": auth_id, "deleted": True})
    else:
        output.emit(f"Deleted token {auth_id}.")
    return 0
