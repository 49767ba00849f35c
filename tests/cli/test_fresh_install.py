"""`pip install .` in a fresh virtualenv: the ext_authz stubs come along in the
private package authzd._envoy, and nothing top-level (envoy, xds, udpa, validate,
google/*) is added or replaced, so grpcio-status and the OpenTelemetry OTLP
exporter (googleapis-common-protos users) keep working beside authzd."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = ("envoy", "xds", "udpa", "validate", "google")

CHECK = r"""
import importlib.metadata, importlib.util, sys
for name in ("envoy", "xds", "udpa", "validate"):
    assert importlib.util.find_spec(name) is None, name
from google.rpc import status_pb2
from grpc_status import rpc_status
from authzd._envoy.envoy.service.auth.v3 import external_auth_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from service.transport import ext_authz
r = external_auth_pb2.CheckResponse()
r.status.code = 7
assert type(r.status) is status_pb2.Status  # the one google.rpc.Status, shared
st = rpc_status.to_status(status_pb2.Status(code=5, message="x"))
assert st.code.name == "NOT_FOUND"
owned = [str(f) for f in importlib.metadata.distribution("authzd").files]
assert not [f for f in owned if f.split("/")[0] in ("envoy", "xds", "udpa", "validate", "google")]
print("fresh-install-ok", ext_authz.SERVICE)
"""


@pytest.mark.slow
def test_wheel_has_only_private_envoy_modules_and_works_in_a_fresh_venv(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("authzd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "authzd/_envoy/envoy/service/auth/v3/external_auth_pb2.py" in names
    tops = {n.split("/")[0] for n in names}
    assert not tops & set(FOREIGN), sorted(tops)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    installed = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{wheel}[otel]", "grpcio-status"],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    ran = subprocess.run([str(py), "-c", CHECK], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["fresh-install-ok", "envoy.service.auth.v3.Authorization"]

    # Without the postgres and metrics extras (installed: otel only) the core
    # serves, and a flag that needs one is refused with one line naming it.
    authzd = str(venv / "bin" / "authzd")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    db = ["--db", str(tmp_path / "x.db")]
    for flags, extra, module in (
        (["--database-url", "postgresql://u:secret-pw@127.0.0.1:9/d"], "postgres", "psycopg2"),
        ([*db, "--metrics-listen", "127.0.0.1:0"], "metrics", "prometheus_client"),
    ):
        flag = flags[-2]
        refused = subprocess.run(
            [authzd, "serve", "--listen", "127.0.0.1:0", "--http-listen", "off", *flags],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
        assert (refused.returncode, refused.stderr) == (1, (
            f"error: {flag} needs the {extra} extra ({module} is not installed): "
            f"pip install 'authzd[{extra}]'\n")), refused.stderr
    assert not (tmp_path / "x.db").exists()
    # The operator commands that read AUTHZD_DATABASE_URL say the same.
    recovery = subprocess.run(
        [authzd, "recovery", "user", "list"], capture_output=True, text=True, timeout=60,
        cwd=tmp_path, env={**env, "AUTHZD_DATABASE_URL": "postgresql://u:secret-pw@127.0.0.1:9/d"})
    assert recovery.returncode == 1
    assert recovery.stderr.startswith("error: --database-url needs the postgres extra"), \
        recovery.stderr
    assert "secret-pw" not in recovery.stderr and "Traceback" not in recovery.stderr
    # And the core serves without them: gRPC and the HTTP API, then a clean stop.
    serve = subprocess.Popen(
        [authzd, "serve", *db, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
         "--log-format", "json", "--audit-log", "off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path, env=env)
    try:
        assert serve.stderr is not None
        events = []
        for line in serve.stderr:
            events.append(json.loads(line)["event"])
            if events[-1] == "serving":
                break
        assert events[-2:] == ["serving_http", "serving"], events
    finally:
        serve.terminate()
        serve.communicate(timeout=30)  # reads the rest and closes the pipe
    assert serve.returncode == 0
