"""The CLI over mTLS: --tls-ca/--tls-cert/--tls-key, saved by setup, and hints when
TLS is missing or wrong. Throwaway certificates come from the openssl command."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.server import build_server
from service.settings import Settings
from tests.cli.conftest import Cli, clean_env
from tests.conftest import FAST_HASHER


def _openssl(d: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)


def _make_certs(d: Path) -> None:
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=test ca", "-keyout", "ca.key", "-out", "ca.pem")
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("client", "DNS:client")):
        _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem")


@pytest.fixture
def mtls_host(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    assert shutil.which("openssl"), "the openssl command is needed to make test certificates"
    certs = tmp_path / "certs"
    certs.mkdir()
    _make_certs(certs)
    settings = Settings(
        db=str(tmp_path / "tls.db"), listen="127.0.0.1:0",
        tls_cert=str(certs / "server.pem"), tls_key=str(certs / "server.key"),
        tls_client_ca=str(certs / "ca.pem"),
    )
    server, port = build_server(settings, hasher=FAST_HASHER)
    server.start()
    try:
        yield f"127.0.0.1:{port}", certs
    finally:
        server.stop(0)


def test_mtls_setup_saves_the_tls_files(tmp_path: Path, mtls_host: tuple[str, Path]) -> None:
    host, certs = mtls_host
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, {**clean_env(home), "AUTHZD_HOST": host})

    r = cli("org", "list", "--token", "azt_x", ok=False)
    assert "if it serves TLS, pass --tls-ca" in r.error
    r = cli("org", "list", "--token", "azt_x", "--tls-ca", str(certs / "ca.pem"), ok=False)
    assert "client certificate (mTLS)" in r.error

    tls = ["--tls-ca", str(certs / "ca.pem"), "--tls-cert", str(certs / "client.pem"),
           "--tls-key", str(certs / "client.key")]
    cli("setup", "--username", "admin", "--password", "admin-password-1", "--org", "acme",
        "--bucket", "telemetry", *tls)
    saved = json.loads(cli.config_path.read_text())
    assert saved["tls_ca"] == str(certs / "ca.pem")
    assert saved["tls_key"] == str(certs / "client.key")
    # Later commands find server, token and TLS files in the config file.
    assert [o["name"] for o in cli("org", "list", "--json").json()] == ["acme"]
