"""The real `authzd serve` as a child process, for tests that kill or signal it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import Client

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_status(channel: grpc.Channel, timeout: float = 1.0) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout).status


class ServeProcess:
    """`python -m service serve --db DB --listen 127.0.0.1:<port>`; its stderr
    (logs, audit events) goes to `log`, quoted when it fails to start."""

    def __init__(self, db: Path, log: Path, *extra: str) -> None:
        self.db = db
        self.log = log
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until health says SERVING."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHZD_")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--db", str(self.db),
                 "--listen", self.target, "--http-listen", "off", "--log-level", "warning",
                 *self.extra],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            )
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"authzd serve exited {self.proc.returncode} at start:\n{self.tail()}"
                    )
                try:
                    if health_status(channel, timeout=0.5) == SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.05)
        self.kill()
        raise AssertionError(f"authzd serve not SERVING after {timeout}s:\n{self.tail()}")

    def client(self) -> Client:
        return Client.connect(self.target)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
