"""Checks `authzd serve` makes before it opens anything (issue 15, items 16-17).

- `probe(listen)`: bind a plain socket (SO_REUSEADDR, as grpc does, and no
  SO_REUSEPORT) on every address of `--listen` and close it. It fails when
  anything listens there, a `--workers` group included, so a refused start says so
  in one line before a database file is created and before grpc logs its own
  error.
- `reserve(listen)`: for `--workers N` on port 0, a free port chosen by the
  supervisor and held (bound with SO_REUSEADDR, never listening) while it runs:
  no other port-0 bind is given it, and the workers, binding with SO_REUSEADDR
  and SO_REUSEPORT, still can. The workers are handed the fixed port.
- `group_lock(listen)`: the supervisor of `--workers N` holds an exclusive lock
  keyed by the port (and uid: SO_REUSEPORT only shares a port within one uid) for
  its lifetime, so two groups started at the same moment cannot both pass the
  probe and then share the port through SO_REUSEPORT.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import tempfile
from pathlib import Path

from service.settings import split_host_port

# Errors that mean "someone else has this port" (or we may not have it).
_TAKEN = {errno.EADDRINUSE, errno.EACCES}


class PortUnavailable(Exception):
    """The port cannot be served; the message is the one line to print."""


def split_listen(listen: str) -> tuple[str, int]:
    found = split_host_port(listen)
    if found is None:
        raise PortUnavailable(f"cannot listen on {listen}: give HOST:PORT, e.g. 127.0.0.1:50051")
    return found


def reserve(listen: str) -> tuple[str, socket.socket | None]:
    """`listen` with port 0 replaced by a free port held by the returned socket
    (close it when the group stops); another port is returned as it is, with
    no socket."""
    host, port = split_listen(listen)
    if port != 0:
        return listen, None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {listen}: {exc.strerror}") from None
    held = socket.socket(family, kind, proto)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind(address)
    except OSError as exc:
        held.close()
        raise PortUnavailable(f"cannot listen on {listen}: {exc.strerror}") from None
    chosen = held.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{chosen}", held


def probe(listen: str) -> None:
    """Raise PortUnavailable when --listen's port is taken on any of its addresses.
    Port 0 (any free port) always passes."""
    host, port = split_listen(listen)
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {listen}: {exc.strerror}") from None
    failed: OSError | None = None
    bound = 0
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(address)
                bound += 1
            except OSError as exc:
                if exc.errno in _TAKEN:
                    what = ("already in use (by another authzd, or another program)"
                            if exc.errno == errno.EADDRINUSE else exc.strerror)
                    raise PortUnavailable(f"cannot listen on {listen}: the address is {what}") \
                        from None
                # EADDRNOTAVAIL and the like (e.g. ::1 without IPv6): grpc skips
                # such an address too, as long as another one of the name works.
                failed = exc
    if not bound and failed is not None:
        raise PortUnavailable(f"cannot listen on {listen}: {failed.strerror}")


def lock_path(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"authzd-{os.getuid()}-port-{port}.lock"


class GroupLock:
    """Held for as long as the `--workers` supervisor runs; released on close (or
    by the kernel when the process dies)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def group_lock(listen: str) -> GroupLock:
    _, port = split_listen(listen)
    path = lock_path(port)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = f" (pid {int(os.pread(fd, 32, 0).decode().strip())})"
        os.close(fd)
        raise PortUnavailable(f"cannot listen on {listen}: port {port} is already served by "
                              f"another authzd --workers group{holder}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return GroupLock(fd, path)
