"""The README's commands run (issue 15, item 1), so the README cannot drift.

The marker: a fenced block whose opening line is directly preceded by the line
`<!-- runnable -->`. Marked ```sh blocks run in order in one bash (`set -euo
pipefail`, so shell variables carry from block to block) against a temporary
`authzd serve`, set up as the README's unmarked block before them says: `authzd`
on PATH, a server on `cli.db` in the working directory, AUTHZD_HOST pointing at
it (the port is one it picked, on port 0, instead of 50052), and a private HOME and
XDG_CONFIG_HOME. Marked ```python blocks run with python against a server of
their own, with the README's 127.0.0.1:50051 replaced by it; their `# comment`
after each print is the expected line of output.

Blocks that cannot run here (installing, long-running servers, other machines'
paths) are simply not marked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import clean_env
from tests.serving import ServeProcess

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- runnable -->"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
SETUP_BLOCK = """```sh
. .venv/bin/activate
authzd serve --db cli.db --listen 127.0.0.1:50052 &
export AUTHZD_HOST=127.0.0.1:50052
```"""


def runnable_blocks(text: str, language: str) -> list[str]:
    """The marked blocks of one language, in order."""
    blocks = []
    for m in _BLOCK.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() == MARKER and m.group(1) == language:
            blocks.append(m.group(2))
    return blocks


def test_marker_finds_blocks() -> None:
    """The extraction itself: only marked blocks, of the asked language."""
    text = f"a\n{MARKER}\n```sh\necho 1\n```\n\n```sh\necho 2\n```\n{MARKER}\n```python\nx\n```\n"
    assert runnable_blocks(text, "sh") == ["echo 1\n"]
    assert runnable_blocks(text, "python") == ["x\n"]
    readme = README.read_text()
    assert len(runnable_blocks(readme, "sh")) >= 2 and len(runnable_blocks(readme, "python")) == 1
    assert readme.count(MARKER) == len(runnable_blocks(readme, "sh")) + 1


class Server:
    def __init__(self, cwd: Path, db: str) -> None:
        self.env = clean_env(cwd)
        bin_dir = str(Path(sys.executable).parent)
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.server = ServeProcess.start(["--db", db, "--audit-log", "off"], self.env, cwd)
        self.env["AUTHZD_HOST"] = self.server.target

    def stop(self) -> None:
        self.server.stop()


def test_readme_sh_blocks_run(tmp_path: Path) -> None:
    readme = README.read_text()
    assert SETUP_BLOCK in readme  # what this test provides is what the README says
    assert readme.index(SETUP_BLOCK) < readme.index(MARKER + "\n```sh")
    script = "set -euo pipefail\n" + "\n".join(runnable_blocks(readme, "sh"))
    server = Server(tmp_path, "cli.db")
    try:
        r = subprocess.run(["bash", "--norc", "-c", script], cwd=tmp_path, env=server.env,
                           capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "error:" not in r.stderr, r.stderr
    decisions = re.findall(r"^Decision\s+(\w+)\n^Reason\s+(\w+)", r.stdout, re.M)
    assert decisions == [("allowed", "ALLOWED"), ("denied", "TOKEN_INACTIVE")]
    assert "Password set for user ci-bot (" in r.stdout
    assert "Created Operator token" in r.stdout
    assert "Host         127.0.0.1:" in r.stdout  # config --local
    assert (tmp_path / "xdg" / "authzd" / "config.json").exists()


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    readme = README.read_text()
    (block,) = runnable_blocks(readme, "python")
    server = Server(tmp_path, "walk.db")
    try:
        code = block.replace("127.0.0.1:50051", server.env["AUTHZD_HOST"])
        assert code != block
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=server.env,
                           capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    # The one-word comment closing a statement is the line it prints.
    expected = [m.group(1) for line in block.splitlines()
                if not line.lstrip().startswith("#") and (m := re.search(r"#\s+(\S+)$", line))]
    assert r.stdout.splitlines() == expected == ["True", "DECISION_REASON_NO_MATCHING_PERMISSION"]
