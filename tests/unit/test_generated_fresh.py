"""The committed stubs under generated/ must be exactly what scripts/gen_protos.py
produces from protos/ now: regenerate into a temporary folder and compare bytes."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"
SCRIPT = ROOT / "scripts" / "gen_protos.py"


def load_gen_protos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protos", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path; bytecode caches are not stubs."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_generated_stubs_are_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # protoc finds the mypy-protobuf plugins (protoc-gen-mypy, protoc-gen-mypy_grpc) on
    # PATH; they are installed next to this interpreter, which may not be on PATH when
    # the venv is not activated.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    load_gen_protos().generate(tmp_path)
    capfd.readouterr()  # protoc-gen-mypy reports each file it writes

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
