"""A small HTTP/1.1 server for the BBS: keep-alive, TCP_NODELAY, a thread per connection,
optional TLS with client certificates, bodies over a limit refused before they are read, and
streamed (chunked) responses for the SSE routes.

Python's http.server parses headers with the email package and flushes in pieces; this reads
exactly what the BBS needs and writes each response with one ``sendall``, which matters at
Diego's request rates.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_BODY = 16 * 1024 * 1024
"""Largest request body read; bigger ones get 413 without being read. A DesiredLRP at Diego's
limits (10 KiB annotation, 128 KiB routes) is far below this."""

MAX_HEADER_LINE = 8192
MAX_HEADERS = 100
IDLE_TIMEOUT = 300.0

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/x-protobuf"
    stream: Iterator[bytes] | None = None
    """When set, the response is sent chunked, one chunk per item, and the connection closes after."""


Handler = Callable[[Request], Response]


class _Conn(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        server = self.server
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(IDLE_TIMEOUT)
            if isinstance(sock, ssl.SSLSocket):
                try:
                    sock.do_handshake()
                except (ssl.SSLError, OSError) as e:
                    server.on_tls_error(self.client_address, e)
                    return
            server.track(sock, True)
            rfile = sock.makefile("rb", 65536)
            while not server.stopping:
                if not self._one(sock, rfile):
                    break
        except (OSError, ValueError):
            pass
        finally:
            server.track(sock, False)

    def _one(self, sock: socket.socket, rfile) -> bool:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if not line:
            return False
        if _too_long(line):
            self._send(sock, Response(400, b"request line too long\n", "text/plain"), close=True)
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._send(sock, Response(400, b"malformed request line\n", "text/plain"), close=True)
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = rfile.readline(MAX_HEADER_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            if _too_long(raw):  # never split one long header into several
                self._send(sock, Response(400, b"header line too long\n", "text/plain"), close=True)
                return False
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self._send(sock, Response(400, b"too many headers\n", "text/plain"), close=True)
            return False
        keep_alive = headers.get("connection", "").lower() != "close" and (
            version != "HTTP/1.0" or headers.get("connection", "").lower() == "keep-alive"
        )
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._send(sock, Response(411, b"send the body with a Content-Length\n", "text/plain"),
                       close=True)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._send(sock, Response(400, b"bad Content-Length\n", "text/plain"), close=True)
            return False
        if length > MAX_BODY:
            body = f"request body of {length} bytes is over the {MAX_BODY}-byte limit\n".encode()
            self._send(sock, Response(413, body, "text/plain"), close=True)
            return False
        body = rfile.read(length) if length else b""
        if len(body) != length:
            return False
        path = target.split("?", 1)[0]
        request = Request(method, path, headers, body)
        try:
            response = self.server.app(request)
        except Exception as e:
            self.server.on_handler_error(request, e)
            response = Response(500, b"internal error\n", "text/plain")
        if response.stream is not None:
            self.server.streams_open(1)
            try:
                self._stream(sock, response)
            finally:
                self.server.streams_open(-1)
            return False
        self._send(sock, response, close=not keep_alive)
        return keep_alive

    @staticmethod
    def _send(sock: socket.socket, response: Response, close: bool = False) -> None:
        head = (
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        ).encode("latin-1")
        sock.sendall(head + response.body)

    @staticmethod
    def _stream(sock: socket.socket, response: Response) -> None:
        head = (
            f"HTTP/1.1 {response.status} OK\r\n"
            f"Content-Type: {response.content_type}\r\n"
            "Cache-Control: no-cache, no-store, must-revalidate\r\n"
            "Connection: keep-alive\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode("latin-1")
        sock.sendall(head)
        assert response.stream is not None
        try:
            for chunk in response.stream:
                if chunk:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif peer_closed(sock):
                    return
            sock.sendall(b"0\r\n\r\n")
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()


class Server(socketserver.ThreadingTCPServer):
    """Threaded HTTP server on ``(host, port)``; ``tls`` wraps accepted sockets (handshake in the
    connection's thread, so a slow client never blocks accept)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: Handler, tls: ssl.SSLContext | None = None,
                 on_error: Callable[[str, object], None] | None = None) -> None:
        self.app = app
        self.tls = tls
        self.stopping = False
        self._on_error = on_error or (lambda what, error: None)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Condition()
        self._streams = 0
        self._thread: threading.Thread | None = None
        super().__init__(address, _Conn)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def track(self, sock: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    def streams_open(self, delta: int) -> None:
        with self._conns_lock:
            self._streams += delta
            self._conns_lock.notify_all()

    def on_tls_error(self, peer: object, error: BaseException) -> None:
        self._on_error("tls-handshake-failed", f"{peer}: {error}")

    def on_handler_error(self, request: Request, error: BaseException) -> None:
        self._on_error("handler-failed", f"{request.path}: {error!r}")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"http-{self.port}", daemon=True)
        self._thread.start()

    def stop(self, stream_grace: float = 2.0) -> None:
        """Stop accepting, let open streams write their last chunk (their source was closed
        first), then close every connection."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        with self._conns_lock:
            self._conns_lock.wait_for(lambda: self._streams == 0, timeout=stream_grace)
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def _too_long(line: bytes) -> bool:
    """A line cut off at the read limit (no end of line within MAX_HEADER_LINE bytes)."""
    return len(line) > MAX_HEADER_LINE and not line.endswith(b"\n")


def peer_closed(sock: socket.socket) -> bool:
    """True when the peer has hung up (checked on idle event streams). A TLS socket cannot be
    peeked; its hang-up shows on the next write instead."""
    if isinstance(sock, ssl.SSLSocket):
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
