"""The socket pool over TLS: mutual TLS, TLS >= 1.2, session reuse, keep-alive, the idle and
stale-connection rules, and failures classified exactly as on the requests path (event streams)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bbs_fakeserver import PKI, server_context

from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs.errors import BBSClientError, BBSConnectionError, BBSTimeoutError, BBSTLSError
from tests.support.certificates import expired_cert
from tests.support.ports import free_url

PING = models.PingResponse(available=True).SerializeToString()
PING_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n%s"
               % (len(PING), PING))
TLS12 = ssl.TLSVersion.TLSv1_2


@dataclass
class TLSServer:
    url: str = ""
    reused: list[bool] = field(default_factory=list)  # per connection: did it resume a session?
    requests: int = 0


@contextmanager
def tls_server(context: ssl.SSLContext | None,
               answer: Callable[[socket.socket, int], bool]) -> Iterator[TLSServer]:
    """Loopback server: each connection's requests (one head each) go to ``answer(conn, n)``, n
    counting the connection's requests from 1; the connection ends when ``answer`` says False."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    server = TLSServer(url=f"https://127.0.0.1:{listener.getsockname()[1]}")
    threads: list[threading.Thread] = []

    def handle(raw: socket.socket) -> None:
        raw.settimeout(5)
        try:
            conn = context.wrap_socket(raw, server_side=True) if context else raw
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with conn:
            if isinstance(conn, ssl.SSLSocket):
                server.reused.append(conn.session_reused)
            n = 0
            while True:
                request = b""
                try:
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        request += chunk
                except (ssl.SSLError, OSError):
                    return
                n += 1
                server.requests += 1
                if not answer(conn, n):
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=handle, args=(raw,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(5)


def ping(conn: socket.socket, n: int) -> bool:
    conn.sendall(PING_ANSWER)
    return True


def mtls(url: str, pki: PKI, **options: object) -> BBSClient:
    return BBSClient(url, ca_file=pki.ca.cert_file, cert_file=pki.client.cert_file,
                     key_file=pki.client.key_file, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("maximum", [TLS12, ssl.TLSVersion.MAXIMUM_SUPPORTED], ids=["tls1.2", "tls-max"])
def test_new_connections_resume_the_session_and_idle_ones_are_kept(pki, maximum):
    with tls_server(server_context(pki, maximum=maximum), ping) as server, mtls(server.url, pki) as client:
        assert client.ping() and client.ping()
        assert server.reused == [False]  # one connection, kept alive
        client._pool.close()  # the next call needs a new connection
        assert client.ping()
        assert server.reused == [False, True]  # an abbreviated handshake: the session was resumed
        assert server.requests == 3


def test_a_connection_the_bbs_closed_while_idle_is_dropped_before_use(pki):
    def once(conn: socket.socket, n: int) -> bool:
        conn.sendall(PING_ANSWER)
        return False  # then close, as a BBS's idle timeout or restart does

    with tls_server(server_context(pki), once) as server, mtls(server.url, pki) as client:
        assert client.ping()
        time.sleep(0.2)  # the server's end of the connection arrives
        assert client.ping()
    assert server.requests == 2  # each request reached the BBS once: nothing was re-sent
    assert len(server.reused) == 2


def test_a_fully_sent_request_is_never_sent_again(pki):
    def vanish(conn: socket.socket, n: int) -> bool:
        return False  # the request arrived; the BBS dies before answering

    with tls_server(server_context(pki), vanish) as server, mtls(server.url, pki) as client, \
            pytest.raises(BBSConnectionError, match="check cert_file/key_file"):
        client.ping()
    assert server.requests == 1


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_below_1_2_is_refused(pki):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    old.load_cert_chain(pki.server.cert_file, pki.server.key_file)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with tls_server(old, ping) as server, pytest.raises(BBSTLSError) as info:
        mtls(server.url, pki).ping()
    assert server.requests == 0
    assert str(info.value).startswith(f"TLS handshake with the BBS at {server.url} failed: ")


def _failure(pki: PKI, tmp_path: Path, case: str) -> tuple[ssl.SSLContext | None, dict[str, object], str]:
    """The server context, client options and URL host of one failure case."""
    mutual = {"ca_file": pki.ca.cert_file, "cert_file": pki.client.cert_file, "key_file": pki.client.key_file}
    if case == "unknown CA":
        return server_context(pki), {**mutual, "ca_file": pki.other_ca.cert_file}, "127.0.0.1"
    if case == "hostname mismatch":
        return server_context(pki), mutual, "localhost"  # the certificate names 127.0.0.1 and bbs.service...
    if case == "expired":
        context = server_context(pki)
        expired = expired_cert(pki.ca, tmp_path, "bbs")
        context.load_cert_chain(expired.cert_file, expired.key_file)
        return context, mutual, "127.0.0.1"
    if case == "certificate rejected":
        other = {**mutual, "cert_file": pki.other_client.cert_file, "key_file": pki.other_client.key_file}
        return server_context(pki, maximum=TLS12), other, "127.0.0.1"
    raise AssertionError(case)


@pytest.mark.parametrize(("case", "error", "text"), [
    ("unknown CA", BBSTLSError, "server certificate not trusted: check ca_file (self-signed certificate in"),
    ("hostname mismatch", BBSTLSError, "server certificate not trusted: check ca_file (Hostname mismatch"),
    ("expired", BBSTLSError, "server certificate not trusted: check ca_file (certificate has expired)"),
    ("certificate rejected", BBSTLSError,
     "client certificate rejected: check cert_file/key_file ([SSL: TLSV1_ALERT_UNKNOWN_CA]"),
])
def test_tls_failures_are_the_same_error_as_on_the_requests_path(pki, tmp_path, case, error, text):
    context, options, host = _failure(pki, tmp_path, case)
    with tls_server(context, ping) as server:
        url = server.url.replace("127.0.0.1", host)
        with pytest.raises(BBSClientError) as pooled:
            BBSClient(url, **options).ping()  # type: ignore[arg-type]
        with pytest.raises(BBSClientError) as streamed:
            BBSClient(url, **options).task_events()  # type: ignore[arg-type]
    assert type(pooled.value) is type(streamed.value) is error
    assert str(pooled.value) == str(streamed.value)
    assert str(pooled.value).startswith(f"TLS handshake with the BBS at {url} failed: {text}")
    assert server.requests == 0


def test_connection_refused_is_the_same_error_as_on_the_requests_path(pki):
    url = free_url("https")  # nothing listens
    client = mtls(url, pki)
    with pytest.raises(BBSConnectionError) as pooled:
        client.ping()
    with pytest.raises(BBSConnectionError) as streamed:
        client.task_events()
    assert str(pooled.value) == str(streamed.value) == (
        f"could not connect to the BBS at {url}: [Errno 111] Connection refused — is it running? check url")


def test_handshake_timeout_is_the_same_error_as_on_the_requests_path(pki):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never speaks TLS
    url = f"https://127.0.0.1:{silent.getsockname()[1]}"
    try:
        client = mtls(url, pki, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(BBSTimeoutError) as pooled:
            client.ping()
        assert time.monotonic() - started < 3
        with pytest.raises(BBSTimeoutError) as streamed:
            client.task_events()
    finally:
        silent.close()
    assert str(pooled.value) == str(streamed.value).replace("TaskEventStream", "Ping")
    assert str(pooled.value).startswith(f"the BBS at {url} did not answer Ping within 0.3s (raise the client "
                                        "timeout or check the BBS's load): _ssl.c:")
    assert str(pooled.value).endswith(": The handshake operation timed out")
