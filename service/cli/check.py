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
                       help="show the server's effective configuration (Operator token), or "
                            "with --local the CLI's own",
                       description="Show the running server's effective configuration, "
                       "secrets redacted (needs an Operator token). With --local, show what "
                       "this CLI would use instead, without calling the server: the host, "
                       "where the token comes from, the config file, the default "
                       "organization and TLS files.")
    p.add_argument("--local", action="store_true",
                   help="the CLI's effective settings and where each comes from")
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
    from authzd.v1 import types_pb2

    request = pb.CheckAccessRequest(token=target.token, permission=types_pb2.Permission(
        action=wanted.action.value,  # type: ignore[arg-type]
        resource=types_pb2.Resource(type=wanted.type.value,  # type: ignore[arg-type]
                                    org_id=wanted.org_id, id=wanted.id)))
    with Client(target) as client:
        stub = client.access
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
    output.show_fields(args, record, [
        ("Decision", "allowed" if r.allowed else "denied"),
        ("Reason", reason),
        ("Permission", args.permission),
        ("Matched", record["matched_permission"] or "-"),
        ("Authorization", r.authorization_id or "-"),
        ("User", r.user_id or "-"),
        ("Org", r.org_id or "-"),
    ])
    return 0


def run_local_config(args: argparse.Namespace) -> int:
    from .config import DEFAULT_HOST, _pick, config_path, load_config

    path = config_path(args)
    saved = load_config(path)
    target = resolve_target(args)
    _, host_source = _pick(args, "host", "AUTHZD_HOST", saved, "host")
    record = {
        "config_path": str(path),
        "config_file_exists": path.exists(),
        "host": target.host,
        "host_source": host_source or f"default ({DEFAULT_HOST})",
        "token_source": target.token_source or None,
        # A hint only (as `auth list` shows): the token itself is never printed.
        "token_hint": target.token[:8] or None,
        "default_org": target.default_org or None,
        "tls_ca": target.tls_ca or None,
        "tls_cert": target.tls_cert or None,
        "tls_key": target.tls_key or None,
    }
    output.show_fields(args, record, [
        ("Config file", f"{path}" + ("" if record["config_file_exists"] else " (none yet)")),
        ("Host", f"{target.host} (from {record['host_source']})"),
        ("Token", f"{target.token[:8]}… (from {target.token_source})" if target.token
         else "none — run `authzd setup` or pass --token"),
        ("Default org", target.default_org or "-"),
        ("TLS", ", ".join(f"{k} {v}" for k, v in (("--tls-ca", target.tls_ca), (
            "--tls-cert", target.tls_cert), ("--tls-key", target.tls_key)) if v) or "off"),
    ])
    return 0


def run_config(args: argparse.Namespace) -> int:
    if args.local:
        return run_local_config(args)
    from authzd.v1 import config_service_pb2 as pb

    with Client(resolve_target(args)) as client:
        stub = client.config
        r = client.call(stub.GetConfig, pb.GetConfigRequest())
    settings = {e.key: e.value for e in r.entries}
    if getattr(args, "json", False):
        output.emit_json({"version": r.version, "settings": settings})
        return 0
    output.emit(output.fields([("version", r.version), *sorted(settings.items())]))
    return 0
