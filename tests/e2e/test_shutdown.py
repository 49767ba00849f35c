"""Graceful shutdown of the real `authzd serve` (issue 5, "Graceful shutdown").

On SIGTERM (or SIGINT): health turns NOT_SERVING first (a Watch stream sees it
while RPCs are still in flight), the RPCs in flight finish and answer OK, new
RPCs are refused, and the process exits 0 once they are done, within the grace
period and well before it when nothing is left. The slow in-flight RPCs are
sign-ins with the production argon2 parameters (about 0.2 s each, and several
share two cores).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc
import pytest
from authzd.v1 import session_service_pb2, setup_service_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import Client
from tests.serving import NOT_SERVING, SERVING, ServeProcess, health_status

USER, PASSWORD = "admin", "admin-password-1"
GRACE = 8.0
SLOW_RPCS = 6


class Watcher:
    """Health.Watch on its own channel; records (time, status) until NOT_SERVING,
    then cancels its stream (an open Watch would otherwise hold the server for
    the whole grace period, like any other in-flight RPC)."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)
        self.call = health_pb2_grpc.HealthStub(self.channel).Watch(
            health_pb2.HealthCheckRequest())
        self.events: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for resp in self.call:
                self.events.append((time.monotonic(), resp.status))
                if resp.status == NOT_SERVING:
                    self.call.cancel()
                    return
        except grpc.RpcError:
            pass

    def wait_for(self, status: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, seen in self.events:
                if seen == status:
                    return at
            time.sleep(0.005)
        raise AssertionError(f"health never reported {status}; saw {self.events}")

    def close(self) -> None:
        self.call.cancel()
        self.channel.close()


def _slow_sign_ins(client: Client) -> list[grpc.Future]:
    req = session_service_pb2.SignInRequest(username=USER, password=PASSWORD)
    return [client.sessions.SignIn.future(req, timeout=60) for _ in range(SLOW_RPCS)]


def _serve(tmp_path: Path, grace: float) -> ServeProcess:
    return ServeProcess.start(["--db", str(tmp_path / "a.db"), "--grace-period", str(grace)],
                              log=tmp_path / "serve.log", http="off")


def _setup(server: ServeProcess) -> Client:
    client = server.client()
    client.setup.Setup(setup_service_pb2.SetupRequest(
        username=USER, password=PASSWORD, org="acme", bucket="b"))
    return client


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_in_flight_rpcs_then_exits(tmp_path: Path, signum: int) -> None:
    server = _serve(tmp_path, GRACE)
    client = _setup(server)
    watcher = Watcher(server.target)
    try:
        watcher.wait_for(SERVING, timeout=5)
        in_flight = _slow_sign_ins(client)
        time.sleep(0.05)  # on the wire
        assert not any(f.done() for f in in_flight), "the slow RPCs were not slow"
        signalled = time.monotonic()
        server.proc.send_signal(signum)

        not_serving = watcher.wait_for(NOT_SERVING, timeout=5)
        assert [s for _, s in watcher.events] == [SERVING, NOT_SERVING]
        time.sleep(0.05)
        # New RPCs are refused: on a new connection, and as new streams on the
        # connection that still carries the in-flight ones.
        refused_at = time.monotonic()
        with grpc.insecure_channel(server.target) as fresh, pytest.raises(grpc.RpcError) as new:
            health_status(fresh, timeout=2)
        assert new.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError) as same:
            client.setup.GetSetupStatus(setup_service_pb2.GetSetupStatusRequest(), timeout=2)
        assert same.value.code() == grpc.StatusCode.UNAVAILABLE
        assert not all(f.done() for f in in_flight), "nothing was in flight any more"

        # Every in-flight RPC finishes with its answer.
        finished = []
        for f in in_flight:
            assert f.result(timeout=GRACE + 5).user.name == USER
            finished.append(time.monotonic())
        assert max(finished) > refused_at

        rc = server.wait(timeout=GRACE + 5)
        exited = time.monotonic()
        assert rc == 0, server.tail()
        # Drained, it leaves at once rather than sitting out the grace period.
        assert exited - signalled < GRACE, f"exit took {exited - signalled:.1f}s"
        assert not_serving < refused_at < exited
    finally:
        watcher.close()
        client.channel.close()
        server.kill()


def test_rpcs_past_the_grace_period_are_cut_off(tmp_path: Path) -> None:
    """An RPC that outlasts the grace period is cancelled, and the process still
    exits 0 within grace plus the time its handler needs to return."""
    grace = 0.3
    server = _serve(tmp_path, grace)
    client = _setup(server)
    try:
        # Twice as many sign-ins as cores, several times over: well past 0.3 s.
        in_flight = _slow_sign_ins(client) + _slow_sign_ins(client)
        time.sleep(0.05)
        signalled = time.monotonic()
        server.terminate()
        rc = server.wait(timeout=30)
        exited = time.monotonic()
        assert rc == 0, server.tail()
        codes = []
        for f in in_flight:
            try:
                f.result(timeout=5)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())
        # Cut off (the connection closes under them), never answered wrongly.
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.CANCELLED,
                              grpc.StatusCode.UNAVAILABLE}, codes
        assert set(codes) - {grpc.StatusCode.OK}, f"all finished within {grace}s: {codes}"
        # Not held up by the handlers still hashing: grace, half a second for
        # them to return, and process teardown.
        assert exited - signalled < grace + 1.5, f"exit took {exited - signalled:.1f}s"
    finally:
        client.channel.close()
        server.kill()
