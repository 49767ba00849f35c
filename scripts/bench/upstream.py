"""A minimal keep-alive HTTP/1.1 server answering 200 to everything: the
upstream behind Envoy. Run as a child process:

    python -m scripts.bench.upstream

It binds port 0 and prints the port once it listens."""

from __future__ import annotations

import asyncio

from scripts.bench.procs import Child


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 message (a request or a response) off a keep-alive
    connection: its head is returned, its body (by content-length) skipped."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return head


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await read_message(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def serve() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def upstream_server() -> Child:
    return Child("scripts.bench.upstream")


if __name__ == "__main__":
    asyncio.run(serve())
