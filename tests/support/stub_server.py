"""A scripted HTTP(S) stand-in on 127.0.0.1 that records every request it gets.

It stands in for whatever the code under test talks to: a BBS for the client, an auctioneer or
a rep or a Task's completion callback for the embedded BBS, a router's status listener or a
metrics endpoint for the measurement sources. The test scripts the answers with a responder and
reads what arrived from ``requests`` (a list) or ``received`` (a queue, to wait with a timeout).

A responder gets the recorded request and the handler and either returns ``(status, headers,
body)`` or writes a raw answer itself through the handler (a stream, a hang) and returns None,
which closes the connection afterwards.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded, BaseHTTPRequestHandler], "Answer | None"]


def answer(status: int = 200, body: bytes = b"", content_type: str = "text/plain",
           authorization: str | None = None) -> Responder:
    """A responder that answers every request with ``status`` and ``body``; with
    ``authorization``, 401 to any request that does not send exactly that header."""

    def respond(request: Recorded, handler: BaseHTTPRequestHandler) -> Answer:
        if authorization is not None and request.headers.get("Authorization") != authorization:
            return 401, {"WWW-Authenticate": "Basic", "Content-Type": "text/plain"}, b"401 Unauthorized\n"
        return status, {"Content-Type": content_type}, body

    return respond


def hang(request: Recorded, handler: BaseHTTPRequestHandler) -> None:
    """A responder that accepts the request and never answers (bounded to 3 s, so the server
    can shut down)."""
    time.sleep(3)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.stub.idle_timeout
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.server.stub.handshake_errors.append(str(exc))
                raise
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, dict(self.headers.items()), body, self.client_address[1])
        stub.requests.append(recorded)
        stub.received.put(recorded)
        result = stub.responder(recorded, self)
        if result is None:
            self.close_connection = True
            return
        status, headers, content = result
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: StubServer, context: ssl.SSLContext | None, port: int) -> None:
        self.stub = stub
        self.context = context
        self.accepted: list[socket.socket] = []
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:  # TLS handshake in the handler thread
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out at once
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.accepted.append(sock)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failures are asserted from the client side and from handshake_errors


class StubServer:
    """``with StubServer(answer(202)) as rep: ...``; ``close()`` drops every connection, as a
    killed process would. ``idle_timeout`` (seconds) closes keep-alive connections left idle
    that long."""

    def __init__(self, responder: Responder | None = None, context: ssl.SSLContext | None = None,
                 port: int = 0, path: str = "") -> None:
        self.responder: Responder = responder or answer(200)
        self.requests: list[Recorded] = []
        self.received: queue.Queue[Recorded] = queue.Queue()
        self.handshake_errors: list[str] = []
        self.idle_timeout: float | None = None
        self.stop = threading.Event()
        self._server = _Server(self, context, port)
        host, bound = self._server.server_address[:2]
        self.base_url = f"{'https' if context else 'http'}://{host}:{bound}"
        self.url = self.base_url + path
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def take(self, timeout: float = 5.0) -> Recorded:
        """The next request not taken yet, waiting up to ``timeout`` seconds for it."""
        return self.received.get(timeout=timeout)

    def drain(self) -> None:
        """Forget the requests not taken yet."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.received.get_nowait()

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        for sock in self._server.accepted:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
