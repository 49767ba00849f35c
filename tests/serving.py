"""`authzd serve` as a real process, the one way the tests start it.

gRPC and the HTTP API listen on port 0; the ports are read from the server's own
log lines: `serving_http` and `serving_metrics` (logged first, when HTTP or
--metrics-listen is on) and `serving` (once health says SERVING), as JSON
(`--log-format json`, the default here) or as console lines
(`--log-format console`: `... serving   listen=... port=N`). So the log level
must let info lines through.

`--workers N` on port 0: the supervisor picks the port the workers share; the
start waits for all N workers' `serving` lines.

    server = ServeProcess.start(["--db", str(db)], env, cwd)      # stderr captured
    server = ServeProcess.start([...], log=tmp_path / "serve.log")  # stderr to a file
    server.target, server.http_url, server.stderr_lines, server.client()
    server.kill(); server.restart()  # same flags and database, a new port
    server.stop()                    # SIGTERM, wait, the exit code
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

if TYPE_CHECKING:
    from tests.conftest import Client

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

# A console log line's event and port: `2026-...Z [info     ] serving    listen=... port=N`.
_CONSOLE = re.compile(
    r"^\S+ \[\w+\s*\] (serving_http|serving_metrics|serving)\s.*?\bport=(\d+)\b")


_EVENTS = ("serving", "serving_http", "serving_metrics")


def serve_env(*drop: str) -> dict[str, str]:
    """This process's environment without AUTHZD_* (and the other prefixes named)."""
    prefixes = ("AUTHZD_", *drop)
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def health_status(channel: grpc.Channel, timeout: float = 1.0) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout).status


def stop_process(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM (if it still runs), up to `timeout` s for it to exit, then
    SIGKILL; the exit code. For every child a test or the bench starts."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A fixed port for what cannot listen on port 0 (Envoy's listener; tests of a
    given port, e.g. the group lock). Held while the block runs: bound with
    SO_REUSEADDR and never listening, so no port-0 bind is handed it, while a
    server that binds with SO_REUSEADDR (grpc, the HTTP API, Prometheus's server,
    Envoy) still can, and its listening makes the port taken for anyone else.
    Release it once the server listens (leave the block). `authzd serve
    --workers N` does the same for its own port 0 (service/cli/ports.py)."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def _workers(args: Sequence[str]) -> int:
    """How many `serving` lines a start waits for: --workers N's N, else 1."""
    count = 1
    for i, arg in enumerate(args):
        if arg == "--workers" and i + 1 < len(args):
            count = int(args[i + 1])
        elif arg.startswith("--workers="):
            count = int(arg.partition("=")[2])
    return count


class ServeProcess:
    """One `python -m service serve` process (restartable). Its stderr is either
    read through a pipe (`stderr_lines`) or, with `log`, appended to that file by
    the server itself (nothing in the test process reads it after the start)."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None,
                 cwd: Path | str | None = None, *, log: Path | None = None,
                 http: str | None = "127.0.0.1:0") -> None:
        self.args = list(args)
        self.env = serve_env() if env is None else env
        self.cwd = cwd
        self.log = log
        self.http = http
        self.proc: subprocess.Popen[str] = None  # type: ignore[assignment]
        self.port = 0
        self.http_port = 0
        self.metrics_port = 0
        self._lines: list[str] = []
        self._serving = 0
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None
        self._log_offset = 0

    @classmethod
    def start(cls, args: Sequence[str] = (), env: dict[str, str] | None = None,
              cwd: Path | str | None = None, timeout: float = 30, *,
              log: Path | None = None, http: str | None = "127.0.0.1:0") -> ServeProcess:
        """Start `serve --listen 127.0.0.1:0 --http-listen HTTP --log-format json
        *args` (later flags win: args may name other ones) and wait until it serves.
        `env`: this environment without AUTHZD_* when None. `http`: --http-listen's
        value, "off", or None to give none (the environment or default decides).
        `log`: a file the server's stdout and stderr are appended to."""
        server = cls(args, env, cwd, log=log, http=http)
        server._launch(timeout)
        return server

    def restart(self, timeout: float = 30) -> None:
        """Start again with the same flags (and so the same database) once the
        process has exited; it gets a new port: read `.target` again."""
        assert self.proc.poll() is not None, "still running"
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        argv = [sys.executable, "-m", "service", "serve", "--listen", "127.0.0.1:0",
                "--log-format", "json"]
        if self.http is not None:
            argv += ["--http-listen", self.http]
        self.port = self.http_port = self.metrics_port = self._serving = 0
        self._lines = []
        self._ready.clear()
        if self.log is not None:
            with open(self.log, "ab") as out:
                self._log_offset = out.tell()
                self.proc = subprocess.Popen(
                    [*argv, *self.args], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    text=True, env=self.env, cwd=self.cwd)
        else:
            self.proc = subprocess.Popen(
                [*argv, *self.args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.cwd)
            self._reader = threading.Thread(target=self._read_pipe, daemon=True)
            self._reader.start()
        self._wait_serving(_workers(self.args), timeout)

    def _wait_serving(self, workers: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        read = 0  # bytes of this run's log scanned
        while True:
            if self.log is not None:  # what the server has appended so far
                with open(self.log, "rb") as f:
                    f.seek(self._log_offset + read)
                    chunk = f.read()
                complete = chunk[:chunk.rfind(b"\n") + 1]
                read += len(complete)
                for line in complete.decode(errors="replace").splitlines():
                    self._scan(line)
            if self._serving >= workers:
                return
            if self.proc.poll() is not None:
                self._close()
                raise AssertionError(
                    f"authzd serve exited {self.proc.returncode} at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"authzd serve not serving after {timeout}s:\n{self.tail()}")
            self._ready.wait(0.05)  # set by the pipe's reader at each `serving` line
            self._ready.clear()

    def _read_pipe(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line)
            self._scan(line)

    def _scan(self, line: str) -> None:
        """Take the port from a `serving_http`, `serving_metrics` or `serving` line,
        JSON or console."""
        event: Any = None
        with contextlib.suppress(ValueError):
            event = json.loads(line)
        if isinstance(event, dict) and event.get("event") in _EVENTS:
            name, port = event["event"], int(event["port"])
        elif m := _CONSOLE.match(line):
            name, port = m[1], int(m[2])
        else:
            return
        if name == "serving_http":
            self.http_port = port
        elif name == "serving_metrics":
            self.metrics_port = port
        else:
            self.port = port
            self._serving += 1
            self._ready.set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr_lines(self) -> list[str]:
        """This run's stderr lines (with `log`: read from the file)."""
        if self.log is None:
            return self._lines
        with open(self.log, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace").splitlines(keepends=True)

    def tail(self, lines: int = 30) -> str:
        """The last lines of stderr (with `log`: of the whole file), for messages."""
        if self.log is not None:
            try:
                text = self.log.read_text(errors="replace")
            except OSError:
                return ""
            return "\n".join(text.splitlines()[-lines:])
        return "".join(self._lines[-lines:])

    def client(self) -> Client:
        from tests.conftest import Client  # late: tests.conftest imports the server

        return Client.connect(self.target)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed. No-op once exited."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close()

    def terminate(self) -> None:
        """SIGTERM, without waiting (see wait)."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._close()
        return code

    def stop(self) -> int:
        """SIGTERM, up to 30 s for it to exit (then SIGKILL); the exit code."""
        code = stop_process(self.proc, 30)
        self._close()
        return code

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self.proc.stderr is not None:
            self.proc.stderr.close()
