"""A scriptable BBS stand-in: a threaded HTTP(S) server on 127.0.0.1:0 that records every request."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_diego import tlsutil


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


# A responder gets the request and either returns (status, headers, body) or writes a raw
# response itself through the handler (for streams) and returns None.
Responder = Callable[[Recorded, BaseHTTPRequestHandler], "tuple[int, dict[str, str], bytes] | None"]


@dataclass
class FakeBBS:
    """The server's state: recorded requests, the responder, and TLS handshake failures.

    ``idle_timeout`` (seconds) makes the server close keep-alive connections left idle that long.
    """

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    handshake_errors: list[str] = field(default_factory=list)
    responder: Responder = lambda request, handler: (200, {"Content-Type": "application/x-protobuf"}, b"")
    stop: threading.Event = field(default_factory=threading.Event)
    idle_timeout: float | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.bbs.idle_timeout
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.server.bbs.handshake_errors.append(str(exc))
                raise
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, dict(self.headers.items()), body, self.client_address[1])
        self.server.bbs.requests.append(recorded)
        answer = self.server.bbs.responder(recorded, self)
        if answer is None:
            self.close_connection = True
            return
        status, headers, content = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_POST = _handle
    do_GET = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, bbs: FakeBBS, context: ssl.SSLContext | None, port: int) -> None:
        self.bbs = bbs
        self.context = context
        self.accepted: list[socket.socket] = []
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self):  # TLS handshake in the handler thread, not the accept loop
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out at once
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.accepted.append(sock)
        return sock, address

    def handle_error(self, request, client_address) -> None:
        pass  # failures are asserted from the client side and handshake_errors


@contextlib.contextmanager
def serve(context: ssl.SSLContext | None = None, port: int = 0) -> Iterator[FakeBBS]:
    """Serve until the block ends, then drop every connection, as a killed BBS would."""
    bbs = FakeBBS()
    server = _Server(bbs, context, port)
    host, port = server.server_address[:2]
    bbs.url = f"{'https' if context else 'http'}://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield bbs
    finally:
        bbs.stop.set()
        server.shutdown()
        server.server_close()
        for sock in server.accepted:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread.join(5)


@dataclass(frozen=True)
class PKI:
    ca: tlsutil.CertificateAuthority
    server: tlsutil.IssuedCert
    client: tlsutil.IssuedCert
    other_ca: tlsutil.CertificateAuthority
    other_client: tlsutil.IssuedCert  # signed by a CA the server does not trust


def make_pki(directory: Path) -> PKI:
    ca = tlsutil.generate_ca(directory / "ca")
    other_ca = tlsutil.generate_ca(directory / "other", name="other CA")
    return PKI(
        ca=ca,
        server=tlsutil.issue_cert(ca, directory / "ca", "bbs.service.cf.internal", ["127.0.0.1"]),
        client=tlsutil.issue_cert(ca, directory / "ca", "client", [], client=True),
        other_ca=other_ca,
        other_client=tlsutil.issue_cert(other_ca, directory / "other", "client", [], client=True),
    )


def server_context(pki: PKI, *, maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> ssl.SSLContext:
    """Diego's BBS server TLS: client certificates from the CA are required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = maximum
    context.load_cert_chain(pki.server.cert_file, pki.server.key_file)
    context.load_verify_locations(pki.ca.cert_file)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def stream_events(
    handler: BaseHTTPRequestHandler,
    pieces: list[bytes],
    *,
    chunked: bool = True,
    hold: threading.Event | None = None,
) -> None:
    """Answer an event stream like the BBS, writing ``pieces`` one by one (each flushed on its own).

    ``chunked`` uses chunked transfer encoding (Go's server); otherwise the body ends when the
    connection closes. With ``hold`` the stream stays open until that event is set.
    """
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    try:
        for piece in pieces:
            if not piece:
                continue
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            handler.wfile.flush()
            time.sleep(0.001)  # separate reads on the client side
        if hold is not None:
            hold.wait(30)
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass  # the client went away
