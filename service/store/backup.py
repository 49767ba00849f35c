"""Online backups: a consistent copy of a live store, taken while servers read and
write it.

- SQLite: sqlite3's online backup API, copying every page in one step. That step
  is one read transaction, so the copy is the database as of one commit; in WAL
  mode writers go on meanwhile (a stepwise copy would restart at every write and
  might never finish under load). The copy is switched to a rollback journal so
  it is one self-contained file (`authzd serve` turns WAL back on when it opens
  it), and must pass `PRAGMA integrity_check`.
- PostgreSQL: `pg_dump`, which reads in one repeatable-read snapshot, as a plain
  SQL file without owners or grants, so it restores into any database
  (`createdb NEW && psql -v ON_ERROR_STOP=1 -d NEW -f FILE`). The password of the
  URL reaches pg_dump through PGPASSWORD, not its command line.

Either way the copy is written next to `out` under a temporary name, created
0600 (it holds token digests and password hashes), fsynced, and only then
renamed to `out`: a failed or interrupted backup leaves no half file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.settings import require_extra, split_password

from .engine import sqlite_file_problem

PG_DUMP_DONE = b"-- PostgreSQL database dump complete"
_COUNTED = {
    "organization": "organizations",
    "user": "users",
    "bucket": "buckets",
    "authorization": "authorizations",
}


class BackupError(Exception):
    """Why no backup was written, as one line for the operator."""


@dataclass(frozen=True)
class BackupResult:
    out: str
    bytes: int
    counts: dict[str, int] = field(default_factory=dict)  # SQLite only


# -- the output file -----------------------------------------------------------


def _check_out(out: Path, force: bool) -> None:
    if out.is_dir():
        raise BackupError(f"{out} is a directory; --out takes a file name")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} does not exist; create it or choose another --out")
    if out.exists() and not force:
        raise BackupError(f"{out} already exists; pass --force to overwrite it")


@contextlib.contextmanager
def _staged(out: Path, force: bool) -> Iterator[Path]:
    """A new empty file (0600) next to `out`, renamed to `out` when the block ends
    normally and removed when it fails."""
    tmp = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
        _fsync(tmp)
        _publish(tmp, out, force)
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{s}") for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    _fsync(out.parent)


def _publish(tmp: Path, out: Path, force: bool) -> None:
    if force:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)  # fails if `out` appeared meanwhile: never clobber without --force
    except FileExistsError:
        raise BackupError(f"{out} already exists; pass --force to overwrite it") from None
    except OSError:  # a file system without hard links
        if out.exists():
            raise BackupError(f"{out} already exists; pass --force to overwrite it") from None
        os.replace(tmp, out)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data file was synced
    finally:
        os.close(fd)


# -- SQLite ---------------------------------------------------------------------


def _check_sqlite_source(db: Path, out: Path) -> None:
    problem = sqlite_file_problem(db)
    if problem is not None:
        hint = {
            "does not exist": " — pass --db PATH of the database `authzd serve` uses",
            "is a directory": " — pass --db PATH of the database file",
        }.get(problem, "")
        raise BackupError(f"{db} {problem}{hint}")
    targets = {db.resolve(), *(Path(f"{db}{s}").resolve() for s in ("-wal", "-shm", "-journal"))}
    if out.resolve() in targets:
        raise BackupError(f"--out {out} is the database itself; choose another file")


def backup_sqlite(db: str, out: str, *, force: bool = False) -> BackupResult:
    src_path, out_path = Path(db), Path(out)
    _check_sqlite_source(src_path, out_path)
    _check_out(out_path, force)
    with _staged(out_path, force) as tmp:
        try:
            counts = _copy_sqlite(src_path, tmp)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot back up {db}: {exc}") from None
    return BackupResult(str(out_path), out_path.stat().st_size, counts)


def _copy_sqlite(src_path: Path, tmp: Path) -> dict[str, int]:
    """Copy, make the copy one file, check it; its row counts."""
    # mode=ro: the backup never writes to the live database.
    src = sqlite3.connect(f"{src_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)  # all pages in one step: one consistent snapshot
        mode = dst.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if mode != "delete":
            raise BackupError(f"cannot make the copy one file (journal_mode {mode})")
        check = [row[0] for row in dst.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            raise BackupError(f"the copy failed PRAGMA integrity_check: {'; '.join(check)}")
        return {name: dst.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
                for table, name in _COUNTED.items()}
    finally:
        dst.close()
        src.close()


# -- PostgreSQL -------------------------------------------------------------------

def _check_postgres_source(url: str, where: str) -> None:
    """Reachable, and an authzd database (pg_dump would copy any database)."""
    require_extra("database_url")
    import psycopg2

    try:
        conn = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise BackupError(f"cannot connect to {where}: {' '.join(str(exc).split())}") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.schema_migration')")
            found = cur.fetchone()[0]
    finally:
        conn.close()
    if found is None:
        raise BackupError(f"{where} holds no authzd database")


def backup_postgres(
    database_url: str, out: str, *, force: bool = False, where: str = "the database"
) -> BackupResult:
    """`where` names the database in messages (the URL with its password redacted)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH; install the PostgreSQL client tools "
                          "(the server's major version or newer), e.g. apt-get install "
                          "postgresql-client")
    out_path = Path(out)
    _check_out(out_path, force)
    _check_postgres_source(database_url, where)
    # The URL goes on pg_dump's command line, the password in PGPASSWORD.
    url, password = split_password(database_url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    with _staged(out_path, force) as tmp:
        with open(tmp, "wb") as f:
            proc = subprocess.run(
                [pg_dump, "--format=plain", "--no-owner", "--no-privileges", "--dbname", url],
                stdout=f, stderr=subprocess.PIPE, env=env, check=False,
            )
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.decode(errors="replace").split())
            raise BackupError(f"pg_dump failed (exit {proc.returncode}): {detail}")
        with open(tmp, "rb") as f:
            f.seek(max(0, tmp.stat().st_size - 4096))
            if PG_DUMP_DONE not in f.read():
                raise BackupError("pg_dump ended without finishing the dump; nothing written")
    return BackupResult(str(out_path), out_path.stat().st_size)
