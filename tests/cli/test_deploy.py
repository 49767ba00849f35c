"""deploy/authzd.service (issue 15, item 20): `systemd-analyze verify` accepts it
with not one warning, and it keeps its hardening. scripts/test.sh installs
systemd (for systemd-analyze) when it is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "authzd.service"
INSTALLED_AT = "/opt/authzd/bin/authzd"


def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's `authzd` (verify
    checks that the command exists and is executable)."""
    authzd = Path(sys.executable).parent / "authzd"
    assert authzd.exists(), authzd
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_AT} serve\n" in text
    copy = tmp_path / "authzd.service"
    copy.write_text(text.replace(INSTALLED_AT, str(authzd)))
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze is missing: scripts/test.sh installs Debian's systemd"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def test_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    r = analyze("verify", "--man=no", str(unit_for_this_machine(tmp_path)))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above can fail: a misspelt value is reported."""
    unit = unit_for_this_machine(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strikt"))
    r = analyze("verify", "--man=no", str(unit))
    assert "Failed to parse protect system value" in r.stderr


def test_unit_is_hardened(tmp_path: Path) -> None:
    text = UNIT.read_text()
    for line in ("DynamicUser=yes", "StateDirectory=authzd", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes",
                 "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
                 "Environment=AUTHZD_DB=%S/authzd/authzd.db",
                 "Environment=AUTHZD_LISTEN=127.0.0.1:50051"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    r = analyze("security", "--offline=true", str(unit_for_this_machine(tmp_path)))
    found = re.search(r"Overall exposure level for authzd.service: (\d+\.\d)", r.stdout)
    assert found, r.stdout + r.stderr
    assert float(found.group(1)) <= 2.0  # systemd's scale: 0 safe .. 10 exposed
