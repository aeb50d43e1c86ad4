"""A minimal HTTP/1.1 server on asyncio streams, for the rep API and for every instance's port.

A cell serves its rep API and up to 250 instance ports from one event loop; a thread per
listener (http.server) would cost a thread per instance. Only what those two need is here:
request line, headers, a ``Content-Length`` body, keep-alive, one response per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}
_MAX_HEADER_LINES = 100


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Handler = Callable[[Request], Awaitable[Response]]


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line.strip():
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise ValueError(f"malformed request line {line!r}")
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return Request(parts[0].upper(), parts[1], headers, body)


def _keep_alive(request: Request) -> bool:
    return request.headers.get("connection", "").lower() != "close"


async def _serve_connection(handler: Handler, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            try:
                request = await _read_request(reader)
            except (ValueError, asyncio.IncompleteReadError):
                response, request = Response(400, b'{"error":"malformed request"}'), None
            else:
                if request is None:
                    return
                try:
                    response = await handler(request)
                except Exception as e:
                    response = Response(500, json.dumps({"error": repr(e)}).encode())
            keep = request is not None and _keep_alive(request)
            head = (f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}\r\n"
                    f"Content-Type: {response.content_type}\r\n"
                    f"Content-Length: {len(response.body)}\r\n"
                    f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n")
            writer.write(head.encode("latin-1") + response.body)
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class Listener:
    """A listening socket and the connections it accepted; closing it closes them all.

    ``asyncio.Server.close`` leaves accepted keep-alive connections open (before Python 3.12),
    so an instance that crashed or was stopped would go on answering a router's pooled
    connection. Closing every connection makes a stopped instance really unreachable.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await _serve_connection(self._handler, reader, writer)
        finally:
            self._writers.discard(writer)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()


def bind(host: str, port: int) -> socket.socket:
    """A listening IPv4 socket on ``host:port``, bound without leaving the caller's thread.

    ``asyncio.start_server(host, port)`` resolves the address in the executor first; a cell that
    opens dozens of instance ports at once then races itself for the same port between the
    resolve and the bind. Binding synchronously makes "pick a port, bind it" one step.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(handler: Handler, host: str, port: int, sock: socket.socket | None = None,
                tls: ssl.SSLContext | None = None) -> Listener:
    """Listen on ``host:port`` (0: any free port), or on ``sock`` from :func:`bind`, and answer
    every request with ``handler``; over TLS with ``tls``."""
    listener = Listener(handler)
    listener._server = await asyncio.start_server(listener._connection, sock=sock or bind(host, port),
                                                  ssl=tls)
    return listener
