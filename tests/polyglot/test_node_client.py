"""A client in another language: Node.js (@grpc/grpc-js + @grpc/proto-loader,
loading protos/) runs Setup, creates a bucket token and calls CheckAccess against
a real server, asserting the answers (tests/node/client.js)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import sqlite_only

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    assert exe, "Node.js 20 is required for the polyglot tests"
    assert (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir(), (
        "run `npm ci` in tests/node first (scripts/test.sh does it)"
    )
    return exe


# Another language's client speaks gRPC; the store behind the server does not matter.
@sqlite_only
def test_node_client_setup_token_and_check(running, node):  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [node, "client.js", running.target],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS all steps" in result.stdout
    # It really talked to this server: setup is done here now.
    from authzd.v1 import setup_service_pb2

    status = running.client.setup.GetSetupStatus(setup_service_pb2.GetSetupStatusRequest())
    assert status.allowed is False


def test_protos_pass_buf_lint(node):  # type: ignore[no-untyped-def]
    result = subprocess.run(
        ["sh", str(NODE_DIR / "lint-protos.sh")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
