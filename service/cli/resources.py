"""`authzd user|org|bucket create|list|update|delete` and `authzd user password`."""

from __future__ import annotations

import argparse
from typing import Any

from . import output, prompts
from .common import add_org_flags, add_page_size, id_flag, org_choice, pages
from .config import resolve_target
from .errors import CliError
from .rpc import NO_TOKEN, Client

Sub = argparse._SubParsersAction  # type: ignore[type-arg]
STATUSES = {"active": 1, "inactive": 2}


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
    p.add_argument("--id", required=True, help=f"the {noun}'s ID (see `authzd {noun} list`)")


def _mask(**given: Any) -> list[str]:
    paths = [name for name, value in given.items() if value is not None]
    if not paths:
        flags = " or ".join(f"--{name}" for name in given)
        raise CliError(f"nothing to update: pass {flags}")
    return paths


def _deleted(args: argparse.Namespace, noun: str, item_id: str) -> None:
    if getattr(args, "json", False):
        output.emit_json({"id": item_id, "deleted": True})
    else:
        output.emit(f"Deleted {noun} {item_id}.")


# -- users ---------------------------------------------------------------------


def _users(sub: Sub, common: argparse.ArgumentParser) -> None:
    verbs = _verbs(sub, "user", "users: create, list, update, delete, password")
    p = _leaf(verbs, common, "create", "create a user", user_create)
    p.add_argument("--name", required=True, help="unique name")
    p.add_argument("--password", help="8 to 256 characters (without one the user cannot "
                                      "sign in)")
    p.add_argument("--status", choices=STATUSES, default="active")
    p = _leaf(verbs, common, "list", "list users", user_list)
    p.add_argument("--name", help="only the user with this name")
    add_page_size(p)
    p = _leaf(verbs, common, "update", "rename, activate or deactivate a user", user_update)
    _id_arg(p, "user")
    p.add_argument("--name", help="the new name")
    p.add_argument("--status", choices=STATUSES)
    p = _leaf(verbs, common, "delete", "delete a user and all its tokens", user_delete)
    _id_arg(p, "user")
    p = _leaf(verbs, common, "password", "set a user's password (asked on a terminal)",
              user_password)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--id", help="the user's ID (default: the token's own user)")
    g.add_argument("--name", help="the user's name")
    p.add_argument("--old-password", help="the current password; needed only to change "
                                          "your own")
    p.add_argument("--new-password", help="8 to 256 characters")


def _user_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import user_service_pb2 as pb
    from authzd.v1 import user_service_pb2_grpc as pb_grpc

    return pb, client.stub(pb_grpc, "UserService")


def user_create(args: argparse.Namespace) -> int:
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        r = client.call(stub.CreateUser, pb.CreateUserRequest(
            name=args.name, password=args.password or "", status=STATUSES[args.status]))
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

    user_id = id_flag(args.id, "--id", "a user", "user")
    paths = _mask(name=args.name, status=args.status)
    user = types_pb2.User(id=user_id, name=args.name or "",
                          status=STATUSES[args.status] if args.status else 0)  # type: ignore[arg-type]
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        r = client.call(stub.UpdateUser, pb.UpdateUserRequest(
            user=user, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.user_record(r.user), output.USER_COLUMNS)
    return 0


def user_delete(args: argparse.Namespace) -> int:
    user_id = id_flag(args.id, "--id", "a user", "user")
    with Client(resolve_target(args)) as client:
        pb, stub = _user_stub(client)
        client.call(stub.DeleteUser, pb.DeleteUserRequest(id=user_id))
    _deleted(args, "user", user_id)
    return 0


def _own_user_id(client: Client) -> str:
    """The caller token's user, from a CheckAccess on the token itself."""
    from authzd.v1 import access_service_pb2 as pb
    from authzd.v1 import access_service_pb2_grpc as pb_grpc
    from authzd.v1 import types_pb2

    stub = client.stub(pb_grpc, "AccessService")
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
        if args.id:
            user_id = id_flag(args.id, "--id", "a user", "user", "--name")
        elif args.name:
            found = client.call(stub.ListUsers, pb.ListUsersRequest(name=args.name)).users
            if not found:
                raise CliError(f"user {args.name!r} not found (or this token cannot read it) — "
                               "see `authzd user list`")
            user_id = found[0].id
        else:
            user_id = own_id
        old, new = args.old_password, args.new_password
        if new is None:
            if not prompts.interactive():
                raise CliError("pass --new-password (stdin is not a terminal, so nothing is "
                               "asked)")
            if user_id == own_id and old is None:  # changing one's own needs the old one
                old = prompts.ask_password("Current password", confirm=False, minimum=1)
            new = prompts.ask_password("New password")
        client.call(stub.SetPassword, pb.SetPasswordRequest(
            id=user_id, old_password=old or "", new_password=new))
    if getattr(args, "json", False):
        output.emit_json({"id": user_id, "password_set": True})
    else:
        output.emit(f"Password set for user {user_id}.")
    return 0


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
    p.add_argument("--name", help="the new name")
    p.add_argument("--description", help="the new description")
    p = _leaf(verbs, common, "delete", "delete an organization with its buckets and tokens",
              org_delete)
    _id_arg(p, "org")


def _org_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import organization_service_pb2 as pb
    from authzd.v1 import organization_service_pb2_grpc as pb_grpc

    return pb, client.stub(pb_grpc, "OrganizationService")


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

    org_id = id_flag(args.id, "--id", "an organization", "org")
    paths = _mask(name=args.name, description=args.description)
    org = types_pb2.Organization(id=org_id, name=args.name or "",
                                 description=args.description or "")
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
        r = client.call(stub.UpdateOrganization, pb.UpdateOrganizationRequest(
            organization=org, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.org_record(r.organization), output.ORG_COLUMNS)
    return 0


def org_delete(args: argparse.Namespace) -> int:
    org_id = id_flag(args.id, "--id", "an organization", "org")
    with Client(resolve_target(args)) as client:
        pb, stub = _org_stub(client)
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
    p.add_argument("--name", help="the new name")
    p.add_argument("--description", help="the new description")
    p = _leaf(verbs, common, "delete", "delete a bucket", bucket_delete)
    _id_arg(p, "bucket")


def _bucket_stub(client: Client) -> tuple[Any, Any]:
    from authzd.v1 import bucket_service_pb2 as pb
    from authzd.v1 import bucket_service_pb2_grpc as pb_grpc

    return pb, client.stub(pb_grpc, "BucketService")


def bucket_create(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    org = org_choice(args, target, required=True)
    with Client(target) as client:
        pb, stub = _bucket_stub(client)
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

    bucket_id = id_flag(args.id, "--id", "a bucket", "bucket")
    paths = _mask(name=args.name, description=args.description)
    bucket = types_pb2.Bucket(id=bucket_id, name=args.name or "",
                              description=args.description or "")
    with Client(resolve_target(args)) as client:
        pb, stub = _bucket_stub(client)
        r = client.call(stub.UpdateBucket, pb.UpdateBucketRequest(
            bucket=bucket, update_mask=field_mask_pb2.FieldMask(paths=paths)))
    output.show(args, output.bucket_record(r.bucket), output.BUCKET_COLUMNS)
    return 0


def bucket_delete(args: argparse.Namespace) -> int:
    bucket_id = id_flag(args.id, "--id", "a bucket", "bucket")
    with Client(resolve_target(args)) as client:
        pb, stub = _bucket_stub(client)
        client.call(stub.DeleteBucket, pb.DeleteBucketRequest(id=bucket_id))
    _deleted(args, "bucket", bucket_id)
    return 0
