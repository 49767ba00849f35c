"""The committed stubs under generated/ must be exactly what scripts/gen_protos.py
produces from protos/ now: regenerate into a temporary folder and compare bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"
SCRIPT = ROOT / "scripts" / "gen_protos.py"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path; bytecode caches are not stubs."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    # In a child process: protoc aborts when run in a process whose protobuf
    # descriptor pool already holds these files (other tests imported them).
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr

    fresh = tree(tmp_path)
    committed = tree(GENERATED)
    assert fresh, "gen_protos generated nothing"
    assert sorted(committed) == sorted(fresh), (
        "files missing from generated/: "
        f"{sorted(set(fresh) - set(committed))}; "
        f"extra files in generated/: {sorted(set(committed) - set(fresh))}"
    )
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert stale == [], f"stale stubs (run scripts/gen_protos.py): {stale}"


def test_every_proto_has_its_stubs() -> None:
    protos = sorted(p.stem for p in (ROOT / "protos" / "authzd" / "v1").glob("*.proto"))
    assert protos
    stubs = {p.name for p in (GENERATED / "authzd" / "v1").iterdir()}
    for stem in protos:
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert f"{stem}{suffix}" in stubs
