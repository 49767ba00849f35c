"""Starting the processes a scenario measures.

authzd servers are started the tests' one way (tests/serving.py: port 0, the
bound ports read from the JSON log). The bench's own servers (the no-op
references, the HTTP upstream) also bind port 0 and print the port they got
on their first line of stdout, once they serve."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from scripts.bench.common import ROOT
from tests.serving import ServeProcess, stop_process

__all__ = ["ROOT", "Child", "ServeProcess", "Server", "authzd_server", "rss_mib"]


class Server(Protocol):
    """What a scenario uses of a started server (a ServeProcess, a Child)."""

    proc: subprocess.Popen[str]

    @property
    def target(self) -> str: ...

    def stop(self) -> int: ...


def authzd_server(
    db: str, *extra: str, env: dict[str, str] | None = None, timeout: float = 120
) -> ServeProcess:
    """`authzd serve` on db (a file, or a postgresql:// URL) on port 0, the HTTP
    API off unless `extra` says `--http-listen` (later flags win)."""
    store = ["--database-url", db] if db.startswith("postgresql://") else ["--db", db]
    return ServeProcess.start(
        [*store, "--http-listen", "off", *extra],
        {**os.environ, **(env or {})},
        ROOT,
        timeout,
    )


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


class Child:
    """`python -m <module> <args>` that binds port 0 and prints the port on its
    first line of stdout once it serves; `.proc`, `.port`, `.target`, `.stop()`
    as a ServeProcess has."""

    def __init__(self, module: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # the port, or "" if it exited
        if not first.strip().isdigit():
            self.stop()
            raise RuntimeError(f"{module} did not start: {first!r}")
        self.port = int(first)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> int:
        code = stop_process(self.proc, 15)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code
