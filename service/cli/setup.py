"""`authzd setup`: first user, org, bucket and Operator token; saves host + token."""

from __future__ import annotations

import argparse
import os
from typing import Any

from . import output, prompts
from .config import config_path, load_config, resolve_target, save_config
from .errors import CliError
from .rpc import Client

FIELDS = (("username", "Username"), ("password", "Password"), ("org", "Organization"),
          ("bucket", "Bucket"))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "setup",
        parents=[common],
        help="set up a new instance and save its Operator token for later commands",
        description="Create the first user (with a password), organization, bucket and "
        "Operator token on a new authzd, then save the host and token to the CLI config "
        "file (mode 0600). Missing values are asked for when stdin is a terminal.",
    )
    p.add_argument("--username", help="the first user, owner of the Operator token")
    prompts.add_password_flags(p, what="that user's password", extra="; asked when omitted "
                               "on a terminal")
    p.add_argument("--org", help="the first organization")
    p.add_argument("--bucket", help="the first bucket, in that organization")
    p.add_argument("--force", action="store_true",
                   help="replace a token already saved in the config file")
    p.set_defaults(func=run)


def _missing(args: argparse.Namespace) -> list[str]:
    """The values not given as flags; an error when nobody can be asked for them."""
    if args.password_stdin:
        args.password = prompts.stdin_lines(1)[0]
    elif args.password == prompts.ASK:
        args.password = None  # asked below, with the other missing values
    missing = [name for name, _ in FIELDS if not getattr(args, name)]
    if missing and not prompts.interactive():
        flags = ", ".join("--password or --password-stdin" if name == "password" else
                          f"--{name}" for name in missing)
        raise CliError(f"setup needs {flags} (stdin is not a terminal, so nothing is asked)")
    return missing


def _ask(args: argparse.Namespace, missing: list[str]) -> dict[str, str]:
    values = {name: getattr(args, name) or "" for name, _ in FIELDS}
    for name, label in FIELDS:
        if name in missing:
            values[name] = prompts.ask_password() if name == "password" else prompts.ask(label)
    return values


def run(args: argparse.Namespace) -> int:
    from authzd.v1 import setup_service_pb2 as pb

    path = config_path(args)
    saved = load_config(path)
    if saved.get("token") and not args.force:
        raise CliError(f"{path} already holds a token — pass --force to replace it, or "
                       "--config-path to save elsewhere")
    missing = _missing(args)
    target = resolve_target(args)
    with Client(target) as client:
        stub = client.setup
        if not client.call(stub.GetSetupStatus, pb.GetSetupStatusRequest(), auth=False).allowed:
            raise CliError(
                f"authzd at {target.host} is already set up — use a token you have "
                "(--token), or mint one with `authzd recovery auth create-operator`"
            )
        # Asked only now: no point typing a password for a server already set up.
        values = _ask(args, missing)
        r = client.call(stub.Setup, pb.SetupRequest(**values), auth=False)
    config: dict[str, Any] = {k: v for k, v in saved.items() if not k.startswith("tls_")}
    config.update(host=target.host, token=r.token, org=r.organization.name)
    for key in ("tls_ca", "tls_cert", "tls_key"):
        if getattr(target, key):
            config[key] = os.path.abspath(os.path.expanduser(getattr(target, key)))
    try:
        save_config(path, config)
    except OSError as exc:
        # Setup happened: the token must not be lost with the file.
        output.emit(f"Token: {r.token}")
        raise CliError(f"setup done, but the config file {path} could not be written "
                       f"({exc.strerror}); the Operator token is printed above — keep it") from None
    if getattr(args, "json", False):
        output.emit_json({
            "user": output.user_record(r.user),
            "org": output.org_record(r.organization),
            "bucket": output.bucket_record(r.bucket),
            "authorization": output.authorization_record(r.authorization),
            "config_path": str(path),
        })
        return 0
    output.emit(output.fields([
        ("User", f"{r.user.name} ({r.user.id})"),
        ("Organization", f"{r.organization.name} ({r.organization.id})"),
        ("Bucket", f"{r.bucket.name} ({r.bucket.id})"),
        ("Operator token", f"{r.authorization.id} ({r.authorization.token_hint}…)"),
    ]))
    output.emit(f"Saved the host ({target.host}) and the Operator token to {path} (mode 0600); "
                "later commands use them.")
    return 0
