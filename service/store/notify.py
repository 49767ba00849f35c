"""PostgreSQL change notifications: every write transaction sends
`NOTIFY authzd_changes` (delivered on commit); a listener on its own connection
wakes the decision index at once instead of at its next poll. The periodic poll
stays as the catch-up for a notification lost while a connection was down."""

from __future__ import annotations

import select
import threading
from collections.abc import Callable

import structlog

CHANNEL = "authzd_changes"

log = structlog.get_logger("authzd.notify")


def listen(database_url: str, on_change: Callable[[], None], stop: threading.Event) -> None:
    """Block until `stop` is set, calling on_change for every notification (and
    once after each reconnect, since notifications may have been missed)."""
    import psycopg2  # the postgres extra; open_store has checked it is there

    while not stop.is_set():
        try:
            conn = psycopg2.connect(database_url, connect_timeout=5)
        except psycopg2.Error:
            stop.wait(1.0)
            continue
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            on_change()
            while not stop.is_set():
                if select.select([conn], [], [], 0.5) == ([], [], []):
                    continue
                conn.poll()
                if conn.notifies:
                    conn.notifies.clear()
                    on_change()
        except (psycopg2.Error, OSError, ValueError):
            log.warning("listen_connection_lost")
        finally:
            conn.close()
