"""`authzd recovery ...`: work on the database directly, no token, server running or not.

For the operator who lost every usable token: mint a new Operator token, fix a
user, add an organization. Writes bump the store's revision, so a running server
on the same database sees them at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from service.settings import LOCATION, add_arguments
from service.transport.convert import authorization_to_proto, org_to_proto, user_to_proto

from . import output, prompts
from .common import STATUSES
from .config import config_path, load_config, save_config
from .errors import CliError

Sub = argparse._SubParsersAction  # type: ignore[type-arg]
SHOWN_ONCE = "This token will not be shown again: copy it now (authzd keeps only its digest)."


def _db_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("database (the one `authzd serve` uses)")
    add_arguments(g, only=LOCATION)  # as `authzd serve` declares them
    g.add_argument("--json", action="store_true", help="print JSON for scripts")
    g.add_argument("--config-path", metavar="PATH", help="CLI config file (for --save)")
    g.add_argument("--audit-log", metavar="PATH",
                   help=AUDIT_LOG_HELP + " (env AUTHZD_AUDIT_LOG; default: none)")
    return p


AUDIT_LOG_HELP = ("append an audit event for this command to PATH (\"-\": stderr); give "
                  "the file `authzd serve --audit-log` writes")


def open_command_audit(args: argparse.Namespace, request_id: str) -> Any:
    """The auditor of a command run on the database directly (recovery, backup):
    its events say request id `request_id`, peer "local" and the OS user. Off
    unless --audit-log or AUTHZD_AUDIT_LOG names a sink: this command's stderr
    is a person's terminal, not a collected log."""
    import getpass

    import structlog

    from service.app.audit import open_auditor

    where = getattr(args, "audit_log", None) or os.environ.get("AUTHZD_AUDIT_LOG", "")
    try:
        auditor = open_auditor(where)
    except OSError as exc:
        raise CliError(f"cannot open the audit log {where}: {exc.strerror}") from None
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): the uid says it
        os_user = f"uid:{os.getuid()}"
    structlog.contextvars.bind_contextvars(request_id=request_id, peer="local", os_user=os_user)
    return auditor


def add_parser(sub: Sub, common: argparse.ArgumentParser) -> None:
    db = _db_flags()
    text = ("work on the database directly, without a token (server running or not)")
    recovery = sub.add_parser("recovery", parents=[db], help=text,
                              description="Recovery: " + text + ". Refuses a path that holds "
                              "no authzd database.")
    groups = recovery.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def leaf(verbs: Sub, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, parents=[db], help=help_text,
                             description=help_text[0].upper() + help_text[1:] + ".")
        p.set_defaults(func=func)
        return p

    verbs = groups.add_parser("auth", help="tokens: list, create-operator").add_subparsers(
        dest="verb", required=True, metavar="COMMAND")
    leaf(verbs, "list", "list every token in the database", auth_list)
    p = leaf(verbs, "create-operator", "mint an Operator token (printed once)", create_operator)
    p.add_argument("--org", required=True, metavar="NAME", help="the token's organization")
    p.add_argument("--username", required=True, metavar="NAME",
                   help="the token's owner (an active user)")
    p.add_argument("--description", default="", help="default: \"<user>'s recovery Token\"")
    p.add_argument("--save", action="store_true",
                   help="also save the token to the CLI config file, so later commands use it")

    verbs = groups.add_parser("user", help="users: list, create, update").add_subparsers(
        dest="verb", required=True, metavar="COMMAND")
    leaf(verbs, "list", "list every user", user_list)
    p = leaf(verbs, "create", "create a user", user_create)
    p.add_argument("--username", "--name", dest="username", required=True, metavar="NAME")
    prompts.add_password_flags(p, what="its password", extra=" (without a password the user "
                               "cannot sign in)")
    p = leaf(verbs, "update", "set a user's password and/or status", user_update)
    p.add_argument("--username", "--name", dest="username", required=True, metavar="NAME")
    prompts.add_password_flags(p, what="the new password", extra="; also asked when neither "
                               "a password nor --status is given")
    p.add_argument("--status", choices=STATUSES, help="active or inactive")

    verbs = groups.add_parser("org", help="organizations: list, create").add_subparsers(
        dest="verb", required=True, metavar="COMMAND")
    leaf(verbs, "list", "list every organization", org_list)
    p = leaf(verbs, "create", "create an organization", org_create)
    p.add_argument("--name", "--org", dest="name", required=True, metavar="NAME")
    p.add_argument("--description", default="")


class _Opened:
    """The recovery context on the chosen database, closed on exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        from service.domain.errors import StoreUnavailable
        from service.settings import database_location, redact_url
        from service.store.database import NoDatabase, open_store

        try:
            path, url = database_location(args.db, args.database_url)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        where = redact_url(url) if url else path
        if not url:
            _check_sqlite_file(path)
        try:
            store = open_store(path, url or None, create=False, pool_size=2)
        except NoDatabase:
            raise CliError(f"{where} holds no authzd database — pass --db PATH (or "
                           "--database-url) of the one `authzd serve` uses") from None
        except StoreUnavailable as err:
            detail = err.message.removeprefix("cannot open the store: ")
            raise CliError(f"cannot open {where}: {detail}") from None
        from service.app.recovery import Recovery

        try:
            audit = open_command_audit(args, "recovery")
        except CliError:
            store.close()
            raise
        self.rec = Recovery(store, audit=audit)

    def __enter__(self) -> Any:
        return self.rec

    def __exit__(self, *exc: object) -> None:
        self.rec.store.close()
        self.rec.audit.close()


def _check_sqlite_file(path: str) -> None:
    """Refuse a missing or non-SQLite file before opening it: opening would set
    pragmas (WAL) and so change a file that is not ours."""
    from service.store.engine import sqlite_file_problem

    problem = sqlite_file_problem(Path(path))
    if problem is not None:
        hint = "pass --db PATH (or --database-url) of the database `authzd serve` uses"
        raise CliError(f"{path} {problem} — {hint}")


def _hinted(err: Any, hints: dict[str, str]) -> CliError:
    return CliError(err.message + hints.get(err.reason, ""))


def auth_list(args: argparse.Namespace) -> int:
    from service.app import recovery

    with _Opened(args) as rec:
        records = [output.authorization_record(authorization_to_proto(a))
                   for a in recovery.list_authorizations(rec)]
    output.show(args, records, output.AUTH_COLUMNS)
    return 0


def create_operator(args: argparse.Namespace) -> int:
    from service.app import recovery
    from service.domain.errors import AuthzdError

    # Read the config file first: a bad one must fail before a token exists.
    path = config_path(args) if args.save else None
    values = load_config(path) if path else {}
    with _Opened(args) as rec:
        try:
            auth, token = recovery.create_operator(rec, args.org, args.username, args.description)
        except AuthzdError as err:
            if getattr(err, "field", "") == "username":  # the owner is inactive
                raise CliError(f"{err.message} — reactivate it with `authzd recovery user "
                               f"update --username {args.username} --status active`") from None
            raise _hinted(err, {
                "ORGANIZATION_NOT_FOUND": " — see `authzd recovery org list`",
                "USER_NOT_FOUND": " — see `authzd recovery user list`, or create one with "
                                  "`authzd recovery user create`",
            }) from None
    saved = ""
    if path:
        values["token"] = token
        values.setdefault("org", auth.org_name)
        try:
            save_config(path, values)
        except OSError as exc:
            output.emit(f"Token: {token}")
            raise CliError(f"the token was created but {path} could not be written "
                           f"({exc.strerror}); it is printed above — keep it") from None
        saved = str(path)
    record = output.authorization_record(authorization_to_proto(auth))
    if getattr(args, "json", False):
        output.emit_json({"authorization": record, "token": token, "config_path": saved or None})
        sys.stderr.write(SHOWN_ONCE + "\n")
        return 0
    output.emit(f"Created Operator token {auth.id} for user {auth.user_name} in organization "
                f"{auth.org_name}.")
    output.emit(f"Token: {token}")
    output.emit(SHOWN_ONCE)
    if saved:
        output.emit(f"Saved it to {saved}: later commands use it.")
    else:
        output.emit("Use it with --token, AUTHZD_TOKEN, or run again with --save to keep it in "
                    "the CLI config file.")
    return 0


def user_list(args: argparse.Namespace) -> int:
    from service.app import recovery

    with _Opened(args) as rec:
        records = [output.user_record(user_to_proto(u)) for u in recovery.list_users(rec)]
    output.show(args, records, output.USER_COLUMNS)
    return 0


def user_create(args: argparse.Namespace) -> int:
    from service.app import recovery

    password = prompts.password(args.password, args.password_stdin)
    with _Opened(args) as rec:
        user = recovery.create_user(rec, args.username, password)
    output.show(args, output.user_record(user_to_proto(user)), output.USER_COLUMNS)
    return 0


def user_update(args: argparse.Namespace) -> int:
    from service.app import recovery
    from service.domain.errors import AuthzdError
    from service.domain.models import Status

    password = prompts.password(args.password, args.password_stdin, label="New password")
    if password is None and args.status is None:
        if not prompts.interactive():
            raise CliError("nothing to update: pass --password-stdin, --password or --status")
        password = prompts.ask_password("New password")
    status = Status(STATUSES[args.status]) if args.status else None
    with _Opened(args) as rec:
        try:
            user = recovery.update_user(rec, args.username, password, status)
        except AuthzdError as err:
            raise _hinted(err, {"USER_NOT_FOUND": " — see `authzd recovery user list`"}) from None
    output.show(args, output.user_record(user_to_proto(user)), output.USER_COLUMNS)
    return 0


def org_list(args: argparse.Namespace) -> int:
    from service.app import recovery

    with _Opened(args) as rec:
        records = [output.org_record(org_to_proto(o)) for o in recovery.list_orgs(rec)]
    output.show(args, records, output.ORG_COLUMNS)
    return 0


def org_create(args: argparse.Namespace) -> int:
    from service.app import recovery

    with _Opened(args) as rec:
        org = recovery.create_org(rec, args.name, args.description)
    output.show(args, output.org_record(org_to_proto(org)), output.ORG_COLUMNS)
    return 0
