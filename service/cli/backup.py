"""`authzd backup`: an online copy of the database, safe while servers run and write.

SQLite (`--db`): a single-file copy that passes `PRAGMA integrity_check`; serve it
with `authzd serve --db FILE`. PostgreSQL (`--database-url`): a plain SQL file
from pg_dump; restore it with psql into a new database.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from service.settings import LOCATION, add_arguments, database_location

from . import output
from .errors import CliError
from .recovery import AUDIT_LOG_HELP, open_command_audit

Sub = argparse._SubParsersAction  # type: ignore[type-arg]


def add_parser(sub: Sub, common: argparse.ArgumentParser) -> None:
    text = "copy the database while authzd runs (online, consistent)"
    p = sub.add_parser("backup", help=text, description=(
        "Back up the database while servers run and write. SQLite: a single-file copy "
        "that passes PRAGMA integrity_check (serve it with `authzd serve --db FILE`). "
        "PostgreSQL: a plain SQL file from pg_dump (restore: `createdb NEW && psql -v "
        "ON_ERROR_STOP=1 -d NEW -f FILE`). The copy holds token digests and password "
        "hashes: it is created mode 0600."))
    g = p.add_mutually_exclusive_group()
    # As `authzd serve` declares them; a PostgreSQL backup needs pg_dump on PATH.
    add_arguments(g, only=LOCATION)
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the copy")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--audit-log", metavar="PATH",
                   help=AUDIT_LOG_HELP + " (env AUTHZD_AUDIT_LOG; default: none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from service.app.audit import FAILURE, REASON_PREFIX, SUCCESS, Target
    from service.settings import redact_url
    from service.store.backup import BackupError, backup_postgres, backup_sqlite

    db, url = database_location(args.db, args.database_url)
    where = redact_url(url) if url else db
    audit = open_command_audit(args, "backup")
    # A backup copies every token digest and password hash: who took one is audited.
    target, out = Target("database", name=where), os.path.abspath(args.out)
    try:
        if url:
            result = backup_postgres(url, args.out, force=args.force, where=where)
        else:
            result = backup_sqlite(db, args.out, force=args.force)
    except BackupError as err:
        audit.record("backup", target, FAILURE, REASON_PREFIX + "BACKUP_FAILED", out=out,
                     error=str(err))
        raise CliError(str(err)) from None
    else:
        audit.record("backup", target, SUCCESS, out=out, bytes=result.bytes)
    finally:
        audit.close()
    _report(args, where, "postgresql" if url else "sqlite", result)
    return 0


def _report(args: argparse.Namespace, where: str, backend: str, result: Any) -> None:
    if args.json:
        output.emit_json({"source": where, "backend": backend, "out": result.out,
                          "bytes": result.bytes, "counts": result.counts or None})
        return
    if backend == "sqlite":
        counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        output.emit(f"Backed up {where} to {result.out} ({result.bytes} bytes; "
                    f"integrity_check ok; {counts}).")
        output.emit(f"Serve it with: authzd serve --db {result.out}")
    else:
        output.emit(f"Backed up {where} to {result.out} ({result.bytes} bytes of SQL, pg_dump).")
        output.emit(f"Restore it with: createdb NEW && psql -v ON_ERROR_STOP=1 -d NEW "
                    f"-f {result.out}")
