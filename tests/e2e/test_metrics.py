"""`authzd serve --metrics-listen`: decisions are counted for Prometheus."""

from __future__ import annotations

import urllib.request

from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import types_pb2

from tests.serving import ServeProcess


def test_decisions_are_counted_by_reason(tmp_path):  # type: ignore[no-untyped-def]
    # Port 0: the bound port is logged (`serving_metrics`).
    server = ServeProcess.start(
        ["--db", str(tmp_path / "m.db"), "--metrics-listen", "127.0.0.1:0"],
        log=tmp_path / "serve.log", http="off")
    metrics_port = server.metrics_port
    assert metrics_port > 0
    try:
        client = server.client()
        req = access_pb.CheckAccessRequest(
            token="azt_not-a-token",
            permission=types_pb2.Permission(
                action=types_pb2.ACTION_READ,
                resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_BUCKETS),
            ),
        )
        for _ in range(3):
            assert not client.access.CheckAccess(req).allowed
        client.channel.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        server.terminate()
        server.wait(15)
    assert 'authzd_decisions_total{reason="TOKEN_UNKNOWN",source="CheckAccess"} 3.0' in text
    assert 'authzd_decisions_total{reason="ALLOWED",source="CheckAccess"} 0.0' in text
