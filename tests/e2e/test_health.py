"""grpc.health.v1 and server reflection on the running server (SPEC §5)."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import setup_service_pb2
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import sqlite_only

# Health and reflection are the gRPC server's, whatever the store: one backend is enough.
pytestmark = sqlite_only

AUTHZD_SERVICES = {
    "authzd.v1.AccessService",
    "authzd.v1.AuthorizationService",
    "authzd.v1.UserService",
    "authzd.v1.OrganizationService",
    "authzd.v1.BucketService",
    "authzd.v1.SetupService",
    "authzd.v1.SessionService",
    "authzd.v1.ConfigService",
}


def _reflect(channel: grpc.Channel, **request: str) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = list(
        stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]))
    )
    assert len(responses) == 1
    return responses[0]


def test_health_check_is_serving(client) -> None:
    stub = health_pb2_grpc.HealthStub(client.channel)
    resp = stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_health_is_serving_before_and_after_setup(client) -> None:
    # Serving does not depend on setup having been done.
    stub = health_pb2_grpc.HealthStub(client.channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    assert stub.Check(health_pb2.HealthCheckRequest()).status == serving
    client.setup.Setup(
        setup_service_pb2.SetupRequest(
            username="health", password="health-password", org="o", bucket="b"
        )
    )
    assert stub.Check(health_pb2.HealthCheckRequest()).status == serving


def test_health_check_unknown_service_is_not_found(client) -> None:
    stub = health_pb2_grpc.HealthStub(client.channel)
    with pytest.raises(grpc.RpcError) as exc:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_every_service(client) -> None:
    resp = _reflect(client.channel, list_services="")
    names = {s.name for s in resp.list_services_response.service}
    assert names >= AUTHZD_SERVICES
    assert "grpc.health.v1.Health" in names
    assert "grpc.reflection.v1alpha.ServerReflection" in names


def test_reflection_describes_access_service(client) -> None:
    resp = _reflect(client.channel, file_containing_symbol="authzd.v1.AccessService")
    assert not resp.HasField("error_response"), resp.error_response
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in resp.file_descriptor_response.file_descriptor_proto
    ]
    by_name = {f.name: f for f in files}
    access = by_name["authzd/v1/access_service.proto"]
    assert access.package == "authzd.v1"
    (service,) = [s for s in access.service if s.name == "AccessService"]
    assert {m.name for m in service.method} == {"CheckAccess", "BatchCheckAccess"}


def test_reflection_unknown_symbol_is_an_error(client) -> None:
    resp = _reflect(client.channel, file_containing_symbol="authzd.v1.NoSuchService")
    assert resp.HasField("error_response")
    assert resp.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
