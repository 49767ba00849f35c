"""Request-size limits, and request parsing that never answers INTERNAL.

grpc answers INTERNAL ("Exception deserializing request!") when a request
deserializer raises, and a deserializer cannot abort a call with a status of its
own. So services are registered here with a parser that returns a `Rejected`
in place of the request when the bytes are too many or are not the message;
the handler wrapper (`rpc()`, or `checked()` for grpc's own services) turns it
into RESOURCE_EXHAUSTED / INVALID_ARGUMENT with an ErrorInfo. Sizes are
compared before parsing, so an oversized request costs a length check.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from service.domain.errors import AuthzdError, InvalidArgument, LimitExceeded

from .errors import to_status

Handler = Callable[..., Any]


class Rejected:
    """A request refused before it reached its handler: `error` says why, and
    `empty` stands in for the request where one is needed (an audit event)."""

    __slots__ = ("error", "empty")

    def __init__(self, error: AuthzdError, empty: Any) -> None:
        self.error = error
        self.empty = empty


def too_large(method: str, size: int, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"request is {size} bytes; {method} accepts at most {limit}",
        metadata={"limit_bytes": str(limit), "size_bytes": str(size)},
    )


def not_a_message() -> InvalidArgument:
    return InvalidArgument("request", "is not a valid protobuf message")


def parser(message_cls: Any, method: str, max_bytes: int) -> Callable[[bytes], Any]:
    """bytes -> message, or a Rejected (never raises, never returns None)."""

    def parse(raw: bytes) -> Any:
        if len(raw) > max_bytes:
            return Rejected(too_large(method, len(raw), max_bytes), message_cls())
        try:
            return message_cls.FromString(raw)
        except DecodeError:
            return Rejected(not_a_message(), message_cls())

    return parse


def add_service(
    server: grpc.aio.Server,
    service: ServiceDescriptor,
    handlers: Mapping[str, Handler],
    max_request_bytes: int,
) -> None:
    """Register `handlers` (method name -> behaviour, as grpc calls it) for every
    method of `service`, with bounded parsing and the proto response serializer."""
    method_handlers = {}
    for method in service.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        parse = parser(request_cls, f"{service.name}/{method.name}", max_request_bytes)
        if method.client_streaming and method.server_streaming:
            make = grpc.stream_stream_rpc_method_handler
        elif method.server_streaming:
            make = grpc.unary_stream_rpc_method_handler
        elif method.client_streaming:
            make = grpc.stream_unary_rpc_method_handler
        else:
            make = grpc.unary_unary_rpc_method_handler
        method_handlers[method.name] = make(
            handlers[method.name],
            request_deserializer=parse,
            response_serializer=response_cls.SerializeToString,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, method_handlers),)
    )
    server.add_registered_method_handlers(service.full_name, method_handlers)


def checked(servicer: Any, service: ServiceDescriptor) -> dict[str, Handler]:
    """The methods of an asyncio servicer we do not wrap with `rpc()` (grpc's
    health and reflection servicers), answering a Rejected request with its
    status."""

    def unary(behaviour: Handler) -> Handler:
        @functools.wraps(behaviour)
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Rejected):
                await _abort(context, request.error)
            return await behaviour(request, context)

        return handle

    def unary_stream(behaviour: Handler) -> Handler:
        if not inspect.isasyncgenfunction(behaviour):
            return unary(behaviour)  # writes through context.write (health's Watch)

        @functools.wraps(behaviour)
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if isinstance(request, Rejected):
                await _abort(context, request.error)
            async for response in behaviour(request, context):
                yield response

        return handle

    def streaming(behaviour: Handler) -> Handler:
        @functools.wraps(behaviour)
        async def handle(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            async def each() -> AsyncIterator[Any]:
                async for request in requests:
                    if isinstance(request, Rejected):
                        await _abort(context, request.error)
                    yield request

            async for response in behaviour(each(), context):
                yield response

        return handle

    def wrap(method: Any) -> Handler:
        behaviour = getattr(servicer, method.name)
        if method.client_streaming:
            return streaming(behaviour)
        return unary_stream(behaviour) if method.server_streaming else unary(behaviour)

    return {m.name: wrap(m) for m in service.methods}


async def _abort(context: grpc.aio.ServicerContext, error: AuthzdError) -> None:
    status = to_status(error)
    await context.abort(status.code, status.details, status.trailing_metadata)
