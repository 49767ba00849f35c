"""Run the real `authzd` entry point as a subprocess against a real server.

The server is the in-process `running` fixture (port 0, FakeClock, cheap hasher);
every CLI run gets a private HOME / XDG_CONFIG_HOME so the user's real config is
never read or written, and stdin is not a terminal (nothing is prompted).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running

TOKEN = re.compile(r"\bazt_[0-9A-Za-z]{49}\b")


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> str:
        """The one error line (and check there is exactly one)."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one error line, got {self.stderr!r}"
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


@dataclass
class Cli:
    """`cli("auth", "list")` runs `python -m service auth list` and checks the basics."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.home / "xdg" / "authzd" / "config.json"

    def __call__(self, *args: str, ok: bool | None = True, env: dict[str, str] | None = None,
                 timeout: float = 30) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "service", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})},
            cwd=self.home,
            timeout=timeout,
        )
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        if ok is True:
            assert proc.returncode == 0, f"{args}: {proc.stderr}"
        elif ok is False:
            assert proc.returncode == 1, f"{args}: rc={proc.returncode} {proc.stdout}"
            result.error  # noqa: B018 (asserts the one-line form)
        return result


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHZD_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"))
    return env


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """The CLI with no server (and no store) behind it: for what works without one."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, clean_env(home))


@pytest.fixture
def cli(running: Running, bare_cli: Cli) -> Cli:
    """The CLI pointed at the running server (on each backend)."""
    bare_cli.env["AUTHZD_HOST"] = running.target
    return bare_cli


def token_in(text: str) -> str:
    found = TOKEN.findall(text)
    assert len(found) == 1, text
    return found[0]
