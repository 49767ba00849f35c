"""Sibling workers (`authzd serve --workers N`) tell each other of their writes.

SO_REUSEPORT sends a client's next call to any worker, so a revocation made
through one worker must reach the others at once, not at their next poll.
Each worker binds a Unix datagram socket `<pid>.sock` in a directory the
supervisor made for them; after a committed write it sends one datagram to
every other socket there, and a worker that receives one forgets its kept
decisions on its loop at once and has its poller read the store's revision (a
datagram carries nothing; a lost one costs only the usual poll delay, the
periodic poll staying as the catch-up). PostgreSQL has NOTIFY for the same;
this covers SQLite too. The directory is the supervisor's, mode 0700: only
the same user can send.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from service.app.access import AccessIndex
    from service.app.context import Host

log = structlog.get_logger("authzd.siblings")

_SUFFIX = ".sock"


class Siblings:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{os.getpid()}{_SUFFIX}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock.bind(str(self.path))
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._stopped = asyncio.Event()

    def attach(self, server: Host) -> None:
        """Tell the siblings of this worker's writes, and listen for theirs on
        the server's loop (call on that loop, before server.start())."""
        access = server.app.access
        access.on_written = self.tell
        loop = asyncio.get_running_loop()
        loop.add_reader(self._sock.fileno(), self._receive, access)

        async def run() -> None:
            await self._stopped.wait()
            loop.remove_reader(self._sock.fileno())
            self.close()

        server.add_task(run, on_stop=self._stopped.set)

    def tell(self) -> None:
        """From the writing thread, once the write committed."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            if name.endswith(_SUFFIX) and name != self.path.name:
                # A sibling gone or too busy to drain: the poll catches up.
                with contextlib.suppress(OSError):
                    self._out.sendto(b"w", str(self.directory / name))

    def _receive(self, access: AccessIndex) -> None:
        """On the loop: forget every decision before the next check is read
        (the datagram was sent before the writer answered, so a check sent
        after that answer finds it already queued here), and have the poller
        note the new revision."""
        got = False
        while True:
            try:
                self._sock.recv(16)
            except OSError:  # drained (BlockingIOError) or closed
                break
            got = True
        if got:
            access.invalidate()
            access.wake()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._sock.close()
        self._out.close()
