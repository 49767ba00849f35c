"""Entry point of the `authzd` command.

Every failure ends as one line on stderr (`error: ...`) and exit code 1; Ctrl-C
exits quietly with 130. Modules that pull in grpc, the stubs or the store are
imported by the commands that need them, so `authzd --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from service import __version__

from . import auth, backup, check, completion, recovery, resources, setup
from .errors import CliError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 1 (not usage + exit 2), and
    no abbreviated flags (`--read-b` must not guess between similar flags)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        # The innermost (sub)command returns first: remember it for the error below.
        if not hasattr(namespace, "prog_"):
            namespace.prog_ = self.prog
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        sys.exit(1)


def global_flags() -> argparse.ArgumentParser:
    """Flags every command takes, before or after its name. SUPPRESS defaults keep
    a subcommand from overwriting a value given before it."""
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("global options")
    g.add_argument("--host", metavar="HOST:PORT",
                   help="the authzd server (env AUTHZD_HOST; else the config file; "
                        "default 127.0.0.1:50051)")
    g.add_argument("--token", help="API token to call with (env AUTHZD_TOKEN; else the "
                                   "config file written by `authzd setup`)")
    g.add_argument("--json", action="store_true", help="print JSON for scripts")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="print only IDs, one a line (`auth create`: only the token)")
    g.add_argument("--config-path", metavar="PATH",
                   help="CLI config file (env AUTHZD_CONFIG_PATH; default "
                        "$XDG_CONFIG_HOME/authzd/config.json or ~/.config/authzd/config.json)")
    g.add_argument("--tls-ca", metavar="PEM", help="CA certificate(s) to verify the server "
                                                   "with; turns TLS on (env AUTHZD_TLS_CA)")
    g.add_argument("--tls-cert", metavar="PEM",
                   help="client certificate for mTLS (env AUTHZD_TLS_CLIENT_CERT)")
    g.add_argument("--tls-key", metavar="PEM",
                   help="the client certificate's key (env AUTHZD_TLS_CLIENT_KEY)")
    return p


def _add_serve(sub: argparse._SubParsersAction, argv: list[str]) -> None:  # type: ignore[type-arg]
    # serve.py loads logging at import; only commands that are `serve` pay for it.
    if "serve" in argv:
        from . import serve

        serve.add_parser(sub)
    else:
        sub.add_parser("serve", help="run the authzd server")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    common = global_flags()
    parser = Parser(
        prog="authzd",
        description="authzd: a gRPC policy-decision service for API tokens",
        parents=[common],
        epilog="Run `authzd COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"authzd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(sub, sys.argv[1:] if argv is None else argv)
    setup.add_parser(sub, common)
    auth.add_parser(sub, common)
    resources.add_parsers(sub, common)
    check.add_parsers(sub, common)
    recovery.add_parser(sub, common)
    backup.add_parser(sub, common)
    completion.add_parser(sub)
    return parser


def _fail(message: str) -> int:
    # One line, whatever the message (a database driver's may span several).
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        args, extras = build_parser(argv).parse_known_args(argv)
        if extras:
            return _fail(f"unrecognized arguments: {' '.join(extras)} "
                         f"(see `{args.prog_} --help`)")
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at exit
        return code
    except CliError as err:
        return _fail(err.message)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # `authzd auth list | head`: the reader left; say nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command ended by SIGPIPE
    except Exception as exc:  # the promise: never a traceback
        from service.domain.errors import AuthzdError
        from service.settings import MissingExtra

        if isinstance(exc, AuthzdError):
            return _fail(exc.message)
        if isinstance(exc, MissingExtra):  # e.g. AUTHZD_DATABASE_URL without psycopg2
            return _fail(str(exc))
        if os.environ.get("AUTHZD_DEBUG"):
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} — set AUTHZD_DEBUG=1 for details "
                     "and report it")


if __name__ == "__main__":
    sys.exit(main())
