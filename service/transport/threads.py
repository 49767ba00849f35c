"""Synchronous handlers (the admin RPCs: peewee, argon2) on an asyncio server.

`in_thread(handler, pool)` turns a grpc-style `handler(request, context)` into a
coroutine that runs it in `pool`, a bounded ThreadPoolExecutor of its own, so
the event loop never waits on the store or on a password hash. The handler
sees a `ThreadContext`: the call's metadata and peer (read on the loop before
the hand-off) and an `abort_with_status` that ends the handler; the loop then
sends that status. grpc's own sync-compatibility context is not used: its
`abort` does not end the handler and it has no `abort_with_status`.

A call whose deadline passes while it waits for a thread is never run: the
loop cancels the pending work item when grpc cancels the call, and the thread
checks the deadline again before it starts (the client was already told
DEADLINE_EXCEEDED, so the write must not happen behind its back).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, NamedTuple

import grpc

Handler = Callable[[Any, Any], Any]


class Status(NamedTuple):
    """A grpc.Status as a value (grpc.Status itself is an abstract class)."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()


class Aborted(Exception):
    """Raised in the thread by ThreadContext.abort*; carries the status."""

    def __init__(self, status: Any) -> None:
        super().__init__(status.code)
        self.status = status


class ThreadContext:
    """What a synchronous handler may use of an asyncio call, from a thread."""

    __slots__ = ("_metadata", "_peer", "deadline", "_code")

    def __init__(self, metadata: Any, peer: str, deadline: float | None) -> None:
        self._metadata = metadata
        self._peer = peer
        self.deadline = deadline  # time.monotonic() value, or None
        self._code: grpc.StatusCode | None = None

    def code(self) -> grpc.StatusCode | None:
        """The status the handler aborted with, None while it has not (tracing)."""
        return self._code

    def invocation_metadata(self) -> Any:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def time_remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def abort_with_status(self, status: Any) -> None:
        self._code = status.code
        raise Aborted(status)

    def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code = code
        raise Aborted(Status(code, details))


_PAST_DEADLINE = Status(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before the call ran")


def _run(handler: Handler, request: Any, context: ThreadContext) -> Any:
    if context.deadline is not None and time.monotonic() >= context.deadline:
        raise Aborted(_PAST_DEADLINE)
    return handler(request, context)


def in_thread(handler: Handler, pool: Executor) -> Callable[[Any, Any], Awaitable[Any]]:
    """`handler` as an asyncio unary handler that runs it in `pool`."""

    @functools.wraps(handler)
    async def run(request: Any, context: grpc.aio.ServicerContext) -> Any:
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        thread_context = ThreadContext(context.invocation_metadata(), context.peer(), deadline)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, _run, handler, request, thread_context)
        except Aborted as aborted:
            status = aborted.status
            await context.abort(status.code, status.details, tuple(status.trailing_metadata))

    return run
