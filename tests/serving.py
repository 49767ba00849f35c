"""`authzd serve` as a real process on port 0, for tests of its flags and of what it
serves (a backup, an audit log). The ports are read from its "serving_http" and
"serving" log lines (the HTTP API listens on port 0 too; it is logged first)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path


class ServeProcess:
    """Started by `ServeProcess.start(args, env)`; `.port`, `.stderr_lines`, `.stop()`."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stderr_lines: list[str] = []
        self.port = 0
        self.http_port = 0
        self._serving = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], cwd: Path,
              timeout: float = 30) -> ServeProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", "--log-format", "json", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env, cwd=cwd,
        )
        server = cls(proc)
        deadline = time.monotonic() + timeout
        while not server._serving.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"serve did not start: {server.stderr_lines}")
        return server

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "serving_http":
                self.http_port = int(event["port"])
            if isinstance(event, dict) and event.get("event") == "serving":
                self.port = int(event["port"])
                self._serving.set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code
