"""Sign-in gives nothing away by its timing either: an unknown user costs about
as much as a wrong password (both verify an argon2 hash), with the production
hasher, not the tests' cheap one."""

from __future__ import annotations

import statistics
import time

import grpc
import pytest
from authzd.v1 import session_service_pb2, setup_service_pb2

from service.server import build_server
from service.settings import Settings
from tests.conftest import Client


def test_unknown_user_costs_about_as_much_as_a_wrong_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, port = build_server(Settings(db=str(tmp_path / "t.db"), listen="127.0.0.1:0"))
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    try:
        client.setup.Setup(
            setup_service_pb2.SetupRequest(
                username="ada", password="correct horse battery", org="o", bucket="b"
            )
        )

        def attempt(username: str) -> float:
            t0 = time.perf_counter()
            with pytest.raises(grpc.RpcError) as err:
                client.sessions.SignIn(
                    session_service_pb2.SignInRequest(username=username, password="wrong password!")
                )
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert err.value.details() == "unauthorized access"
            return time.perf_counter() - t0

        attempt("nobody")  # the dummy hash is made on first use
        unknown, wrong = [], []
        for _ in range(4):  # interleaved, so machine noise hits both alike
            unknown.append(attempt("nobody"))
            wrong.append(attempt("ada"))
        ratio = statistics.median(unknown) / statistics.median(wrong)
        assert 0.5 < ratio < 2.0, (unknown, wrong)
    finally:
        client.channel.close()
        server.stop(0)
