"""The InfluxDB Node.js clients (@influxdata/influxdb-client + -apis, pinned in
tests/node/package.json) walk authzd's HTTP API (tests/node/http_walk.js):
SetupAPI, OrgsAPI, BucketsAPI, AuthorizationsAPI, UsersAPI. The tokens it
leaves behind are then checked over gRPC: the same decision index saw it all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from authzd.v1 import access_service_pb2, types_pb2

from tests.conftest import Client
from tests.serving import ServeProcess

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def _reason(grpc: Client, token: str, org_id: str, bucket_id: str) -> str:
    r = grpc.access.CheckAccess(access_service_pb2.CheckAccessRequest(
        token=token,
        permission=types_pb2.Permission(action=types_pb2.ACTION_READ, resource=types_pb2.Resource(
            type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=org_id, id=bucket_id)),
    ))
    return access_service_pb2.DecisionReason.Name(r.reason).removeprefix("DECISION_REASON_")


def test_the_node_influxdb_clients_manage_authzd(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js 20 is required"
    assert (NODE_DIR / "node_modules" / "@influxdata" / "influxdb-client-apis").is_dir(), (
        "run `npm ci` in tests/node first (scripts/test.sh does it)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHZD_")}
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--audit-log", "off"], env,
                                tmp_path)
    try:
        result_file = tmp_path / "result.json"
        run = subprocess.run([node, "http_walk.js", server.http_url, str(result_file)],
                             cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "PASS all steps" in run.stdout
        left = json.loads(result_file.read_text())
        grpc = Client.connect(server.target)
        try:
            org_id, bucket_id = left["orgID"], left["bucketID"]
            assert _reason(grpc, left["kept"], org_id, bucket_id) == "ALLOWED"
            assert _reason(grpc, left["paused"], org_id, bucket_id) == "TOKEN_INACTIVE"
            assert _reason(grpc, left["deleted"], org_id, bucket_id) == "TOKEN_UNKNOWN"
        finally:
            grpc.channel.close()
    finally:
        server.stop()
