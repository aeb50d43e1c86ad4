"""The BBS side of the client tests: a BBS stand-in (``support.stub_server``), a PKI, Diego's server
TLS settings, and event streams written as the BBS writes them."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from pytest_diego import tlsutil
from tests.support.stub_server import StubServer, answer


def serve(context: ssl.SSLContext | None = None, port: int = 0) -> StubServer:
    """A BBS stand-in answering every request with an empty protobuf body until a test scripts
    its ``responder``; use it as a context manager (leaving it drops every connection, as a
    killed BBS would)."""
    return StubServer(answer(200, b"", "application/x-protobuf"), context, port)


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
