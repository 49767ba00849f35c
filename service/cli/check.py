"""`authzd check` (one CheckAccess, for debugging) and `authzd config` (GetConfig)."""

from __future__ import annotations

import argparse

from . import output
from .config import resolve_target
from .errors import CliError
from .rpc import Client

REASON_PREFIX = "DECISION_REASON_"


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check",
        parents=[common],
        help="ask whether a token may do one thing (allowed/denied and why)",
        description="Ask authzd one CheckAccess question and print the decision and its "
        "reason. The token checked is --token (else AUTHZD_TOKEN, else the saved one). "
        "A denial is an answer, not an error: the exit code is 0 either way.",
    )
    p.add_argument("--permission", required=True, metavar="PERMISSION",
                   help="what to ask for, in text form: read:orgs/<org_id>/buckets/<id>, "
                        "write:orgs/<org_id>/buckets, read:users/<id>, write:instance, ...")
    p.set_defaults(func=run_check)

    p = sub.add_parser("config", parents=[common],
                       help="show the server's effective configuration (Operator token)",
                       description="Show the running server's effective configuration, "
                       "secrets redacted. Needs an Operator token.")
    p.set_defaults(func=run_config)


def run_check(args: argparse.Namespace) -> int:
    from service.domain.errors import InvalidArgument
    from service.domain.permissions import parse_permission

    try:
        wanted = parse_permission(args.permission, "--permission")
    except InvalidArgument as err:
        raise CliError(f"{err.message} — write it like read:orgs/<org_id>/buckets/<id>") from None
    target = resolve_target(args)
    if not target.token:
        raise CliError("which token? pass --token (or set AUTHZD_TOKEN)")

    from authzd.v1 import access_service_pb2 as pb
    from authzd.v1 import access_service_pb2_grpc as pb_grpc
    from authzd.v1 import types_pb2

    request = pb.CheckAccessRequest(token=target.token, permission=types_pb2.Permission(
        action=wanted.action.value,  # type: ignore[arg-type]
        resource=types_pb2.Resource(type=wanted.type.value,  # type: ignore[arg-type]
                                    org_id=wanted.org_id, id=wanted.id)))
    with Client(target) as client:
        stub = client.stub(pb_grpc, "AccessService")
        r = client.call(stub.CheckAccess, request, auth=False)
    reason = pb.DecisionReason.Name(r.reason).removeprefix(REASON_PREFIX)
    record = {
        "allowed": r.allowed,
        "reason": reason,
        "permission": args.permission,
        "matched_permission": output.permission_text(r.matched_permission)
        if r.HasField("matched_permission") else None,
        "authorization_id": r.authorization_id or None,
        "user_id": r.user_id or None,
        "org_id": r.org_id or None,
    }
    if getattr(args, "json", False):
        output.emit_json(record)
        return 0
    output.emit(output.fields([
        ("Decision", "allowed" if r.allowed else "denied"),
        ("Reason", reason),
        ("Permission", args.permission),
        ("Matched", record["matched_permission"] or "-"),
        ("Authorization", r.authorization_id or "-"),
        ("User", r.user_id or "-"),
        ("Org", r.org_id or "-"),
    ]))
    return 0


def run_config(args: argparse.Namespace) -> int:
    from authzd.v1 import config_service_pb2 as pb
    from authzd.v1 import config_service_pb2_grpc as pb_grpc

    with Client(resolve_target(args)) as client:
        stub = client.stub(pb_grpc, "ConfigService")
        r = client.call(stub.GetConfig, pb.GetConfigRequest())
    settings = {e.key: e.value for e in r.entries}
    if getattr(args, "json", False):
        output.emit_json({"version": r.version, "settings": settings})
        return 0
    output.emit(output.fields([("version", r.version), *sorted(settings.items())]))
    return 0
