"""Plain-HTTP keep-alive transport for ``BBSClient``: sockets plus httptools' C response parser.

A load driver spends most of its CPU in the HTTP client, not in the BBS calls it measures:
requests/urllib3 cost ~800 µs per call, ``http.client`` ~330 µs, a third of it parsing headers
with the ``email`` package. Here a request is one ``sendall`` of prebuilt bytes and the response
goes through llhttp (httptools), which is what lets one worker keep up with Locust's
FastHttpUser per core (``benchmarks/BENCHMARKS.md``, load driver).

Errors stay the standard library's (``ConnectionRefusedError``, ``TimeoutError``,
``http.client.IncompleteRead``, ...) so ``BBSClient`` classifies them one way for both transports.
"""

from __future__ import annotations

import http.client
import socket
import threading

import httptools

_RECV = 65536


class Unanswered(ConnectionResetError):
    """The connection dropped before any byte of the response: the BBS never answered on it."""


class MalformedResponse(http.client.HTTPException):
    """What came back is not an HTTP/1.x response (the server is not a BBS, or broke mid-way)."""


class Headers(dict):
    """Response headers by lower-cased name; ``get`` ignores case, like requests' headers."""

    def get(self, name: str, default: None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Reply:
    """httptools callbacks collecting one response."""

    __slots__ = ("body", "complete", "content_length", "headers", "headers_done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.headers = Headers()
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.content_length: int | None = None
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        length = self.headers.get("content-length")
        self.content_length = int(length) if length is not None and length.isdigit() else None

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only valid before the parser resets


class Connection:
    """One keep-alive TCP connection (TCP_NODELAY: a request is a single small write)."""

    __slots__ = ("sock",)

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def round_trip(self, request: bytes) -> tuple[int, Headers, bytes, bool]:
        """Status, headers, body, and whether the connection may be reused."""
        sock = self.sock
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise Unanswered(*exc.args) from exc
        reply = _Reply()
        parser = reply.parser
        received = 0
        while not reply.complete:
            try:
                data = sock.recv(_RECV)
            except ConnectionResetError as exc:
                if received == 0:
                    raise Unanswered(*exc.args) from exc
                raise
            if not data:
                if received == 0:
                    raise Unanswered("the BBS closed the connection without answering")
                if reply.headers_done and reply.content_length is None and \
                        "chunked" not in (reply.headers.get("transfer-encoding") or ""):
                    break  # a body delimited by the connection's end (HTTP/1.0 style)
                got = sum(map(len, reply.body))
                more = None if reply.content_length is None else reply.content_length - got
                raise http.client.IncompleteRead(b"".join(reply.body), more)
            received += len(data)
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                raise MalformedResponse("the server answered with a protocol upgrade") from exc
            except httptools.HttpParserError as exc:
                raise MalformedResponse(f"not an HTTP response ({exc}): {data[:60]!r}") from exc
        return parser.get_status_code(), reply.headers, b"".join(reply.body), reply.keep_alive

    def close(self) -> None:
        self.sock.close()


class ConnectionPool:
    """Thread-safe keep-alive connections to one plain-HTTP BBS.

    Connections are made on demand, so concurrency is never capped; at most ``size`` idle ones
    are kept, like requests' adapter. A connection goes back to the pool only after a fully
    read response that allows keep-alive.
    """

    def __init__(self, host: str, port: int, timeout: float, size: int) -> None:
        self._host = host
        self._size = size
        self._port = port
        self._timeout = timeout
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def post(self, request: bytes) -> tuple[int, Headers, bytes]:
        """Send a complete request; one re-send on a new connection if a reused one was stale.

        A server closes idle keep-alive connections (its idle timeout, a restart) without telling
        us; only a send that failed before any response byte on a *reused* connection is re-sent:
        the server cannot have processed it. Timeouts are never re-sent: the request may have
        been applied.
        """
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            return self._round_trip(self._new(), request)
        try:
            return self._round_trip(connection, request)
        except Unanswered:
            return self._round_trip(self._new(), request)

    def close(self) -> None:
        """Close the idle connections (ones in use close or return when their call ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _new(self) -> Connection:
        return Connection(self._host, self._port, self._timeout)

    def _round_trip(self, connection: Connection, request: bytes) -> tuple[int, Headers, bytes]:
        try:
            status, headers, body, keep = connection.round_trip(request)
        except BaseException:
            connection.close()
            raise
        pooled = False
        if keep:
            with self._lock:
                pooled = len(self._idle) < self._size
                if pooled:
                    self._idle.append(connection)
        if not pooled:
            connection.close()
        return status, headers, body
