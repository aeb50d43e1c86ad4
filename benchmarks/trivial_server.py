"""A trivial HTTP/1.1 endpoint for load-driver comparisons: every request gets the same 200.

    .venv/bin/python -m benchmarks.trivial_server [--port 0]

Answers any method and path with a serialized ``PingResponse(available=True)`` (so ``BBSClient.ping``
and plain HTTP tools hit the very same endpoint), keep-alive, ``Content-Length`` bodies read and
dropped. An ``asyncio.Protocol`` without streams, so the server is cheap per request. Prints
``{"port": N}`` once listening; exits on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from pytest_diego.bbs import models

BODY = models.PingResponse(available=True).SerializeToString()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class TrivialHTTP(asyncio.Protocol):
    """Parses just enough HTTP/1.1 to frame requests on a keep-alive connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            total = end + 4 + length
            if len(buffer) < total:
                break
            buffer = buffer[total:]
            out.append(RESPONSE)
        self.buffer = buffer
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:``port`` until SIGTERM or the end of stdin."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(TrivialHTTP, "127.0.0.1", port, backlog=1024)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(1) else None)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
