"""`authzd user|org|bucket create|list|update|delete` and `authzd user password`."""

from __future__ import annotations

import argparse
from typing import Any

from . import output, prompts
from .common import (
    STATUSES,
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
from .rpc import NO_TOKEN, Client

Sub = argparse._SubParsersAction  # type: ignore[type-arg]


def add_parsers(sub: Sub, common: argparse.ArgumentParser) -> None:
    _users(sub, common)
    _orgs(sub, common)
    _buckets(sub, common)


def _verbs(sub: Sub, name: str, text: str) -> Sub:
    p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    return p.add_subparsers(dest="verb", required=True, metavar="COMMAND")


def _leaf(verbs: Sub, common: argparse.ArgumentParser, name: str, text: str, func: Any,
          **defaults: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(name, parents=[common], help=text,
                         description=text[0].upper() + text[1:] + ".")
    p.set_defaults(func=func, **defaults)
    return p


def _id_arg(p: argparse.ArgumentParser, noun: str) -> None:
    """Which one: `--id ID` or `--name NAME` (a bucket's name within --org/--org-id)."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--id", help=f"the {noun}'s ID (see `authzd {noun} list`)")
    if noun == "bucket":
        g.add_argument("--name", help="the bucket's name, in --org/--org-id (default: the org "
                                      "saved by `authzd setup`)")
        add_org_flags(p, "the bucket's organization (with --name)", default_note=False)
    else:
        g.add_argument("--name", help=f"the {noun}'s name")


def _new_name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-name", metavar="NAME", help="rename it to NAME")


_NOUNS = {"user": ("user", "users", "ListUsers"), "org": ("organization", "organizations",
          "ListOrganizations"), "bucket": ("bucket", "buckets", "ListBuckets")}


def _target_id(args: argparse.Namespace, client: Client, noun: str, pb: Any, stub: Any) -> str:
    """The ID given by --id, or found by --name."""
    word, field, method = _NOUNS[noun]
    if args.id:
        return id_flag(args.id, "--id", f"{'an' if word[0] in 'o' else 'a'} {word}", noun,
                       "--name")
    request: dict[str, str] = {"name": args.name}
    where = ""
    if noun == "bucket":
        org = org_choice(args, client.target, required=True)
        request.update(org)
        where = f" in organization {org.get('org') or org_name(client, org['org_id'])}"
    request_cls = getattr(pb, f"{method}Request")
    found = [x for x in getattr(client.call(getattr(stub, method), request_cls(**request)),
                                field) if x.name == args.name]
    if not found:
        raise CliError(f"no {word} named {args.name!r}{where} (or this token cannot read it) — "
                       f"see `authzd {noun} list`")
    return str(found[0].id)


def _mask(**given: Any) -> list[str]:
    paths = [name for name, value in given.items() if value is not None]
    if not paths:
        flags = " or ".join("--new-name" if name == "name" else f"--{name}" for name in given)
        raise CliError(f"nothing to update: pass {flags}")
    return paths


def _deleted(args: argparse.Namespace, noun: str, item_id: str) -> None:
    if getattr(args, "json", False):
        output.emit_json({"id": item_id, "deleted": True})
    elif getattr(args, "name", None):
        output.emit(f"Deleted {noun} {args.name} ({item_id}).")
    else:
        output.emit(f"Deleted {noun} {item_id}.")


# -- users ---------------------------------------------------------------------


def _users(sub: Sub, common: argparse.ArgumentParser) -> None:
    verbs = _verbs(sub, "user", "users: create, list, update, delete, password")
    p = _leaf(verbs, common, "create", "create a user", user_create)
    p.add_argument("--name", required=True, help="unique name")
    prompts.add_password_flags(p, what="its password", extra=" (without a password the user "
                               "cannot sign in)")
    p.add_argument("--status", choices=STATUSES, default="active")
    p = _leaf(verbs, common, "list", "list users", user_list)
    p.add_argument("--name", help="only the user with this name")
    add_page_size(p)
    p = _leaf(verbs, common, "update", "rename, activate or deactivate a user", user_update)
    _id_arg(p, "user")
    _new_name_arg(p)
    p.add_argument("--status", choices=STATUSES)
    p = _leaf(verbs, common, "delete", "delete a user and all its tokens", user_delete)
    _id_arg(p, "user")
    p = _leaf(verbs, common, "password", "set a user's password (asked on a terminal)",
              user_password)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--id", help="the user's ID (default: the token's own user)")
    g.add_argument("--name", help="the user's name")
    p.add_argument("--old-password", help="the current password; needed only to change "
                                          "your own (asked on a terminal)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--new-password", nargs="?", const=prompts.ASK, metavar="VALUE",
                   help="8 to 256 characters (asked without echo when omitted on a terminal)")
    g.add_argument("--password-stdin", action="store_true",
                   help="read the new password from stdin's first line; when you change your "
                        "own without --old-password, the current one first and the new one "
                        "on the second line")


def _user_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import user_service_pb2 as pb

    return pb, client.users


def user_create(args: argparse.Namespace) -> int:
    password = prompts.password(args.password, args.password_stdin)
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        r = client.call(stub.CreateUser, pb.CreateUserRequest(
            name=args.name, password=password or "", status=STATUSES[args.status]))
    output.show(args, output.user_record(r.user), output.USER_COLUMNS)
    return 0


def user_list(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        items = pages(lambda token: client.call(stub.ListUsers, pb.ListUsersRequest(
            page_size=args.page_size, page_token=token, name=args.name or "")), "users")
        records = [output.user_record(u) for u in items]
    output.show(args, records, output.USER_COLUMNS)
    return 0


def user_update(args: argparse.Namespace) -> int:
    from authzd.v1 import types_pb2
    from google.protobuf import field_mask_pb2

    paths = _mask(name=args.new_name, status=args.status)
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        user_id = _target_id(args, client, "user", pb, stub)
        user = types_pb2.User(id=user_id, name=args.new_name or "",
                              status=STATUSES[args.status] if args.status else 0)  # type: ignore[arg-type]
        r = client.call(stub.UpdateUser, pb.UpdateUserRequest(
            user=user, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.user_record(r.user), output.USER_COLUMNS)
    return 0


def user_delete(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        user_id = _target_id(args, client, "user", pb, stub)
        client.call(stub.DeleteUser, pb.DeleteUserRequest(id=user_id))
    _deleted(args, "user", user_id)
    return 0


def _own_user_id(client: Client) -> str:
    """The caller token's user, from a CheckAccess on the token itself."""
    from authzd.v1 import access_service_pb2 as pb
    from authzd.v1 import types_pb2

    stub = client.access
    # Any question will do: a known token's answer names its user, allowed or not.
    question = types_pb2.Permission(
        action=types_pb2.ACTION_READ,
        resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_USERS),
    )
    request = pb.CheckAccessRequest(token=client.target.token, permission=question)
    r = client.call(stub.CheckAccess, request)
    if not r.user_id:
        raise CliError("unauthorized access: authzd does not know the token from "
                       f"{client.target.token_source} — pass --id or --name, and a usable --token")
    return str(r.user_id)


def user_password(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    if not target.token:  # SetPassword, like every admin call, needs a caller
        raise CliError(NO_TOKEN)
    with Client(target) as client:
        pb, stub = _user_stub(client)
        own_id = _own_user_id(client)
        user_id = _target_id(args, client, "user", pb, stub) if args.id or args.name else own_id
        own = user_id == own_id
        old, new = args.old_password, args.new_password
        if args.password_stdin:
            if own and old is None:  # changing one's own needs the old one
                old, new = prompts.stdin_lines(2)
            else:
                new = prompts.stdin_lines(1)[0]
        elif new is None or new == prompts.ASK:
            if not prompts.interactive():
                raise CliError("pass --password-stdin (or --new-password VALUE): stdin is not a "
                               "terminal, so nothing is asked")
            if own and old is None:
                old = prompts.ask_password("Current password", confirm=False, minimum=1)
            new = prompts.ask_password("New password")
        client.call(stub.SetPassword, pb.SetPasswordRequest(
            id=user_id, old_password=old or "", new_password=new))
        name = args.name or _user_name(client, pb, stub, user_id)
    if getattr(args, "json", False):
        output.emit_json({"id": user_id, "name": name, "password_set": True})
    else:
        output.emit(f"Password set for user {name} ({user_id}).")
    return 0


def _user_name(client: Client, pb: Any, stub: Any, user_id: str) -> str:
    """The user's name for a message; its id when this token cannot read it."""
    try:
        return str(client.call(stub.GetUser, pb.GetUserRequest(id=user_id)).user.name)
    except CliError:
        return user_id


# -- organizations -------------------------------------------------------------


def _orgs(sub: Sub, common: argparse.ArgumentParser) -> None:
    verbs = _verbs(sub, "org", "organizations: create, list, update, delete")
    p = _leaf(verbs, common, "create", "create an organization", org_create)
    p.add_argument("--name", required=True, help="unique name")
    p.add_argument("--description", default="")
    p = _leaf(verbs, common, "list", "list organizations", org_list)
    p.add_argument("--name", help="only the organization with this name")
    add_page_size(p)
    p = _leaf(verbs, common, "update", "rename or describe an organization", org_update)
    _id_arg(p, "org")
    _new_name_arg(p)
    p.add_argument("--description", help="the new description")
    p = _leaf(verbs, common, "delete", "delete an organization with its buckets and tokens",
              org_delete)
    _id_arg(p, "org")


def _org_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import organization_service_pb2 as pb

    return pb, client.orgs


def org_create(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
        r = client.call(stub.CreateOrganization, pb.CreateOrganizationRequest(
            name=args.name, description=args.description))
    output.show(args, output.org_record(r.organization), output.ORG_COLUMNS)
    return 0


def org_list(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
        items = pages(lambda token: client.call(stub.ListOrganizations, pb.ListOrganizationsRequest(
            page_size=args.page_size, page_token=token, name=args.name or "")), "organizations")
        records = [output.org_record(o) for o in items]
    output.show(args, records, output.ORG_COLUMNS)
    return 0


def org_update(args: argparse.Namespace) -> int:
    from authzd.v1 import types_pb2
    from google.protobuf import field_mask_pb2

    paths = _mask(name=args.new_name, description=args.description)
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
        org_id = _target_id(args, client, "org", pb, stub)
        org = types_pb2.Organization(id=org_id, name=args.new_name or "",
                                     description=args.description or "")
        r = client.call(stub.UpdateOrganization, pb.UpdateOrganizationRequest(
            organization=org, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.org_record(r.organization), output.ORG_COLUMNS)
    return 0


def org_delete(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
        org_id = _target_id(args, client, "org", pb, stub)
        client.call(stub.DeleteOrganization, pb.DeleteOrganizationRequest(id=org_id))
    _deleted(args, "organization", org_id)
    return 0


# -- buckets -------------------------------------------------------------------


def _buckets(sub: Sub, common: argparse.ArgumentParser) -> None:
    verbs = _verbs(sub, "bucket", "buckets: create, list, update, delete")
    p = _leaf(verbs, common, "create", "create a bucket", bucket_create)
    p.add_argument("--name", required=True, help="name, unique in its organization")
    add_org_flags(p, "the bucket's organization")
    p.add_argument("--description", default="")
    p = _leaf(verbs, common, "list", "list buckets", bucket_list)
    add_org_flags(p, "only buckets of this organization", default_note=False)
    p.add_argument("--name", help="only buckets with this name")
    add_page_size(p)
    p = _leaf(verbs, common, "update", "rename or describe a bucket", bucket_update)
    _id_arg(p, "bucket")
    _new_name_arg(p)
    p.add_argument("--description", help="the new description")
    p = _leaf(verbs, common, "delete", "delete a bucket", bucket_delete)
    _id_arg(p, "bucket")


def _bucket_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import bucket_service_pb2 as pb

    return pb, client.buckets


def bucket_create(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    org = org_choice(args, target, required=True)
    with Client(target) as client:
        pb, stub = _bucket_stub(client)
        with org_names_in_errors(client):
            r = client.call(stub.CreateBucket, pb.CreateBucketRequest(
                name=args.name, description=args.description, **org))
    output.show(args, output.bucket_record(r.bucket), output.BUCKET_COLUMNS)
    return 0


def bucket_list(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    org = org_choice(args, target, required=False)
    with Client(target) as client:
        pb, stub = _bucket_stub(client)
        items = pages(lambda token: client.call(stub.ListBuckets, pb.ListBucketsRequest(
            page_size=args.page_size, page_token=token, name=args.name or "", **org)), "buckets")
        records = [output.bucket_record(b) for b in items]
    output.show(args, records, output.BUCKET_COLUMNS)
    return 0


def bucket_update(args: argparse.Namespace) -> int:
    from authzd.v1 import types_pb2
    from google.protobuf import field_mask_pb2

    paths = _mask(name=args.new_name, description=args.description)
    with Client(resolve_target(args)) as client:
        pb, stub = _bucket_stub(client)
        bucket_id = _target_id(args, client, "bucket", pb, stub)
        bucket = types_pb2.Bucket(id=bucket_id, name=args.new_name or "",
                                  description=args.description or "")
        with org_names_in_errors(client):
            r = client.call(stub.UpdateBucket, pb.UpdateBucketRequest(
                bucket=bucket, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.bucket_record(r.bucket), output.BUCKET_COLUMNS)
    return 0


def bucket_delete(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _bucket_stub(client)
        bucket_id = _target_id(args, client, "bucket", pb, stub)
        client.call(stub.DeleteBucket, pb.DeleteBucketRequest(id=bucket_id))
    _deleted(args, "bucket", bucket_id)
    return 0
