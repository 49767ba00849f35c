"""scripts/system-deps.sh (run first by scripts/test.sh): missing system tools are
installed from Debian's packages as root, named otherwise (issue 15, items 5
and 20). Run against stub commands on a PATH of their own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run(tmp_path: Path, *, uid: int, node: str = "v20.1.0",
        present: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    stub(bin_dir, "id", f"echo {uid}")
    stub(bin_dir, "apt-get", f'echo "$*" >> {log}')
    stub(bin_dir, "node", f"echo {node}")
    stub(bin_dir, "npm", "true")
    for name in present:
        stub(bin_dir, name, "true")
    sed = shutil.which("sed")
    assert sed
    os.symlink(sed, bin_dir / "sed")
    proc = subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True,
                          env={"PATH": str(bin_dir)}, timeout=30)
    return proc, log.read_text().splitlines() if log.exists() else []


def test_installs_what_is_missing_as_root(tmp_path: Path) -> None:
    proc, apt = run(tmp_path, uid=0, present=("openssl",))
    assert proc.returncode == 0, proc.stderr
    assert apt == ["update -qq",
                   "install -y -qq --no-install-recommends systemd postgresql-client"]


def test_nothing_to_do_when_all_present(tmp_path: Path) -> None:
    proc, apt = run(tmp_path, uid=0,
                    present=("systemd-analyze", "openssl", "psql", "pg_dump"))
    assert (proc.returncode, apt) == (0, [])


def test_names_the_packages_when_not_root(tmp_path: Path) -> None:
    proc, apt = run(tmp_path, uid=1000, present=("psql", "pg_dump"))
    assert proc.returncode == 1 and apt == []
    assert "missing system packages: systemd openssl" in proc.stderr


def test_node_20_is_required(tmp_path: Path) -> None:
    proc, _ = run(tmp_path, uid=0, node="v18.19.0",
                  present=("systemd-analyze", "openssl", "psql", "pg_dump"))
    assert proc.returncode == 1 and "Node.js >= 20" in proc.stderr and "found: 18" in proc.stderr
