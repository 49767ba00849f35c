"""Regenerate the Python stubs under generated/ from protos/.

Usage: python scripts/gen_protos.py [--out DIR]

One command for everyone: `_pb2.py`, `_pb2_grpc.py` and typed `.pyi` (mypy-protobuf)
for every file in protos/authzd/v1/. tests/unit/test_generated_fresh.py regenerates
into a temporary folder and fails when the committed stubs differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "authzd" / "v1").glob("*.proto"))


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    # The mypy-protobuf plugins sit beside the interpreter, on PATH or not.
    bindir = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *proto_files(),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in (out / "authzd", out / "authzd" / "v1"):
        (package / "__init__.py").touch()
        (package / "py.typed").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "generated")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    sys.exit(main())
