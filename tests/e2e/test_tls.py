"""TLS and mTLS: throwaway certificates made with the openssl command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from authzd.v1 import setup_service_pb2, setup_service_pb2_grpc

from service.server import build_server
from service.settings import Settings
from tests.conftest import FAST_HASHER


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.pem",
        cwd=d,
    )


def _leaf(d: Path, name: str, ca: str, san: str) -> None:
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        cwd=d,
    )
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.pem",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.pem",
        cwd=d,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    assert shutil.which("openssl"), "the openssl command is needed to make test certificates"
    d = tmp_path_factory.mktemp("certs")
    _ca(d, "ca")
    _ca(d, "otherca")
    _leaf(d, "server", "ca", "IP:127.0.0.1,DNS:localhost")
    _leaf(d, "client", "ca", "DNS:client")
    _leaf(d, "rogue", "otherca", "DNS:rogue")
    return d


def _serve(tmp_path: Path, certs: Path, mtls: bool):  # type: ignore[no-untyped-def]
    settings = Settings(
        db=str(tmp_path / "tls.db"),
        listen="127.0.0.1:0",
        tls_cert=str(certs / "server.pem"),
        tls_key=str(certs / "server.key"),
        tls_client_ca=str(certs / "ca.pem") if mtls else "",
    )
    server, port = build_server(settings, hasher=FAST_HASHER)
    server.start()
    return server, port


def _status(channel: grpc.Channel) -> bool:
    stub = setup_service_pb2_grpc.SetupServiceStub(channel)
    return stub.GetSetupStatus(setup_service_pb2.GetSetupStatusRequest(), timeout=5).allowed


def _tls_channel(port: int, certs: Path, client: str | None) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / f"{client}.key").read_bytes() if client else None,
        certificate_chain=(certs / f"{client}.pem").read_bytes() if client else None,
    )
    return grpc.secure_channel(f"127.0.0.1:{port}", creds)


def test_tls_serves_tls_clients_and_refuses_plaintext(tmp_path, certs):  # type: ignore[no-untyped-def]
    server, port = _serve(tmp_path, certs, mtls=False)
    try:
        with _tls_channel(port, certs, None) as ch:
            assert _status(ch) is True
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch, pytest.raises(grpc.RpcError) as e:
            _status(ch)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


def test_mtls_requires_a_client_certificate_from_the_right_ca(tmp_path, certs):  # type: ignore[no-untyped-def]
    server, port = _serve(tmp_path, certs, mtls=True)
    try:
        with _tls_channel(port, certs, "client") as ch:
            assert _status(ch) is True
        for client in (None, "rogue"):
            with _tls_channel(port, certs, client) as ch, pytest.raises(grpc.RpcError) as e:
                _status(ch)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, client
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch, pytest.raises(grpc.RpcError):
            _status(ch)
    finally:
        server.stop(0)


def test_half_a_tls_configuration_is_refused(tmp_path, certs):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="go together"):
        build_server(
            Settings(
                db=str(tmp_path / "x.db"), listen="127.0.0.1:0", tls_cert=str(certs / "server.pem")
            ),
            hasher=FAST_HASHER,
        )
