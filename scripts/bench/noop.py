"""The references: AccessService servers that answer without deciding, with the
same grpc settings as `authzd serve`. Run as a child process:

    python -m scripts.bench.noop [--aio]

It binds port 0 and prints the port once it serves."""

from __future__ import annotations

import argparse
import asyncio
from concurrent import futures
from typing import Any

import grpc
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import access_service_pb2_grpc as access_grpc
from authzd.v1 import types_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scripts.bench.procs import Child

MAX_MESSAGE = ("grpc.max_receive_message_length", 16 * 1024 * 1024)

RESPONSE = access_pb.CheckAccessResponse(
    allowed=True,
    reason=access_pb.DECISION_REASON_ALLOWED,
    matched_permission=types_pb2.Permission(
        action=types_pb2.ACTION_READ,
        resource=types_pb2.Resource(
            type=types_pb2.RESOURCE_TYPE_BUCKETS,
            org_id="0123456789abcdef",
            id="0123456789abcdef",
        ),
    ),
    authorization_id="0123456789abcdef",
    user_id="0123456789abcdef",
    org_id="0123456789abcdef",
)


def batch_response(request: Any) -> access_pb.BatchCheckAccessResponse:
    return access_pb.BatchCheckAccessResponse(results=[RESPONSE] * len(request.checks))


class NoopAccess(access_grpc.AccessServiceServicer):
    """Same sizes as a real answer, no work."""

    def CheckAccess(self, request: Any, context: Any) -> Any:
        return RESPONSE

    def BatchCheckAccess(self, request: Any, context: Any) -> Any:
        return batch_response(request)


class AioNoopAccess(access_grpc.AccessServiceServicer):
    """The same no-op as coroutines, for a grpc.aio server."""

    async def CheckAccess(self, request: Any, context: Any) -> Any:
        return RESPONSE

    async def BatchCheckAccess(self, request: Any, context: Any) -> Any:
        return batch_response(request)


def run_sync() -> None:
    """The transport authzd ran on before: a sync server, 16 threads."""
    from grpc_health.v1 import health

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        maximum_concurrent_rpcs=256,
        options=[MAX_MESSAGE, ("grpc.so_reuseport", 0)],
    )
    access_grpc.add_AccessServiceServicer_to_server(NoopAccess(), server)
    h = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(h, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    h.set("", health_pb2.HealthCheckResponse.SERVING)
    print(port, flush=True)
    server.wait_for_termination()


def run_aio() -> None:
    """The transport authzd now runs on: a bare grpc.aio server."""
    from grpc_health.v1 import _async as aio_health

    async def main() -> None:
        server = grpc.aio.server(maximum_concurrent_rpcs=256, options=[MAX_MESSAGE])
        access_grpc.add_AccessServiceServicer_to_server(AioNoopAccess(), server)
        h = aio_health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(h, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await h.set("", health_pb2.HealthCheckResponse.SERVING)
        print(port, flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


def noop_server(aio: bool = False) -> Child:
    return Child("scripts.bench.noop", *(["--aio"] if aio else []))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a no-op AccessService on port 0")
    parser.add_argument("--aio", action="store_true", help="grpc.aio instead of sync")
    if parser.parse_args().aio:
        run_aio()
    else:
        run_sync()
