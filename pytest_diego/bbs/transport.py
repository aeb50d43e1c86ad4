"""Keep-alive transport for ``BBSClient``: sockets (plain or TLS) plus httptools' C response parser.

A load driver spends most of its CPU in the HTTP client, not in the BBS calls it measures:
requests/urllib3 cost ~800 µs per call, ``http.client`` ~330 µs, a third of it parsing headers
with the ``email`` package. Here a request is one ``sendall`` of prebuilt bytes and the response
goes through llhttp (httptools), which is what lets one worker keep up with Locust's
FastHttpUser per core (``benchmarks/BENCHMARKS.md``, load driver).

Over TLS (a real BBS: HTTPS with client certificates) the socket is wrapped by the standard
``ssl`` module with the client's context; the pool keeps the last TLS session and offers it to
every new connection, so only the first handshake is a full one.

Errors stay the standard library's (``ConnectionRefusedError``, ``TimeoutError``,
``ssl.SSLCertVerificationError``, ``http.client.IncompleteRead``, ...) so the client classifies
them one way for this transport and for requests' (event streams), ``failures.py``.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading

import httptools

_RECV = 65536
# A send that fails with these cannot have delivered the whole request.
_SEND_FAILED = (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class Unsent(ConnectionResetError):
    """Sending the request failed part-way: the BBS cannot have received all of it."""


class MalformedResponse(http.client.HTTPException):
    """What came back is not an HTTP/1.x response (the server is not a BBS, or broke mid-way)."""


class Headers(dict):
    """Response headers by lower-cased name; ``get`` ignores case, like requests' headers."""

    def get(self, name: str, default: None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Reply:
    """httptools callbacks collecting one response.

    Interim 1xx responses (``100 Continue``, ``103 Early Hints``) are skipped, as HTTP/1.1 says;
    bytes after the final response are refused, since the connection would hand them to the next
    request as its answer.
    """

    __slots__ = ("body", "chunked", "complete", "content_length", "headers", "headers_done", "interim",
                 "keep_alive", "parser")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.complete = False
        self._start()

    def _start(self) -> None:
        self.headers = Headers()
        self.body: list[bytes] = []
        self.headers_done = False
        self.interim = False
        self.chunked = False
        self.keep_alive = False
        self.content_length: int | None = None

    def on_message_begin(self) -> None:
        if self.complete:
            raise MalformedResponse("more bytes after the response than it announced")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.interim = 100 <= self.parser.get_status_code() < 200 and self.parser.get_status_code() != 101
        length = self.headers.get("content-length")
        self.content_length = int(length) if length is not None and length.isdigit() else None
        self.chunked = "chunked" in (self.headers.get("transfer-encoding") or "").lower()

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        if self.interim:
            self._start()  # the final response follows on the same connection
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only valid before the parser resets


class Connection:
    """One keep-alive TCP connection (TCP_NODELAY: a request is a single small write), over TLS
    when given a context; the handshake runs here, within the timeout."""

    __slots__ = ("sock",)

    def __init__(self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None,
                 session: ssl.SSLSession | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=host, session=session)
            except BaseException:
                sock.close()
                raise
        self.sock = sock

    def idle_and_open(self) -> bool:
        """Whether an idle connection can carry a request: nothing readable on it. A server that
        closed it (idle timeout, restart, SIGKILL) left an end-of-file to read; stray bytes
        would be taken for the next answer. Either way it is dropped before use, not after.
        Over TLS, readable bytes may also be a late TLS 1.3 session ticket, which is no answer:
        a non-blocking read consumes it and finds no data."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        if not poller.poll(0):
            return True
        if not isinstance(self.sock, ssl.SSLSocket):
            return False
        timeout = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            self.sock.recv(1)  # data or end-of-file: either way not usable
            return False
        except ssl.SSLWantReadError:
            return True  # only TLS records without data (a session ticket)
        except OSError:
            return False
        finally:
            self.sock.settimeout(timeout)

    def round_trip(self, request: bytes) -> tuple[int, Headers, bytes, bool]:
        """Status, headers, body, and whether the connection may be reused."""
        sock = self.sock
        try:
            sock.sendall(request)
        except _SEND_FAILED as exc:
            raise Unsent(*exc.args) from exc
        reply = _Reply()
        parser = reply.parser
        received = 0
        while not reply.complete:
            data = sock.recv(_RECV)
            if not data:
                if received == 0:
                    # The whole request went out, so the BBS may have acted on it: never re-sent.
                    raise http.client.RemoteDisconnected("the BBS closed the connection without answering")
                if reply.headers_done and reply.content_length is None and not reply.chunked:
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
                cause = exc.__context__ if isinstance(exc.__context__, MalformedResponse) else exc
                raise MalformedResponse(f"not an HTTP response ({cause}): {data[:60]!r}") from exc
        return parser.get_status_code(), reply.headers, b"".join(reply.body), reply.keep_alive

    def close(self) -> None:
        self.sock.close()


class ConnectionPool:
    """Thread-safe keep-alive connections to one BBS, plain or over TLS (``tls``: the context).

    Connections are made on demand, so concurrency is never capped; at most ``size`` idle ones
    are kept, like requests' adapter. A connection goes back to the pool only after a fully
    read response that allows keep-alive. Over TLS, a new connection resumes the last session
    the pool saw (an abbreviated handshake: no certificate exchange, no key agreement).
    """

    def __init__(self, host: str, port: int, timeout: float, size: int,
                 tls: ssl.SSLContext | None = None) -> None:
        self._host = host
        self._size = size
        self._port = port
        self._timeout = timeout
        self._tls = tls
        self._session: ssl.SSLSession | None = None
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def post(self, request: bytes) -> tuple[int, Headers, bytes]:
        """Send a complete request on an idle connection the server has not closed, or a new one.

        A request is re-sent only when sending it failed part-way on a reused connection (the BBS
        cannot have received all of it). Once it is all sent, a dropped connection or a timeout
        is an error for the caller: the BBS may have applied it.
        """
        connection = self._take_idle()
        if connection is None:
            return self._first_round_trip(request)
        try:
            return self._round_trip(connection, request)
        except Unsent:
            return self._first_round_trip(request)

    def close(self) -> None:
        """Close the idle connections (ones in use close or return when their call ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take_idle(self) -> Connection | None:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None or connection.idle_and_open():
                return connection
            connection.close()

    def _keep_session(self, connection: Connection) -> None:
        sock = connection.sock
        if isinstance(sock, ssl.SSLSocket) and not sock.session_reused:
            self._session = sock.session or self._session

    def _first_round_trip(self, request: bytes) -> tuple[int, Headers, bytes]:
        """A new connection's first exchange; over TLS its session is kept for the next ones
        (read after the answer: TLS 1.3 sends the session ticket after the handshake)."""
        connection = Connection(self._host, self._port, self._timeout, self._tls, self._session)
        return self._round_trip(connection, request, new=self._tls is not None)

    def _round_trip(self, connection: Connection, request: bytes,
                    new: bool = False) -> tuple[int, Headers, bytes]:
        try:
            status, headers, body, keep = connection.round_trip(request)
        except BaseException:
            connection.close()
            raise
        if new:  # before the pool hands the connection to another thread
            self._keep_session(connection)
        pooled = False
        if keep:
            with self._lock:
                pooled = len(self._idle) < self._size
                if pooled:
                    self._idle.append(connection)
        if not pooled:
            connection.close()
        return status, headers, body
