"""The plain-HTTP socket transport against raw servers: what llhttp must parse, and what it must refuse.

The fake BBS (``bbs_fakeserver``) covers the client's behaviour; these servers write exact bytes
to pin the framing cases a real server or proxy may produce.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSConnectionError, BBSError, BBSProtocolError

PING = models.PingResponse(available=True).SerializeToString()
PING_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(PING) + PING


@contextlib.contextmanager
def raw_server(answer: Callable[[socket.socket, bytes], None]) -> Iterator[str]:
    """A loopback server that reads one request per connection and lets ``answer`` write bytes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # so that the loop sees ``stop`` soon
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                answer(conn, request)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def recorder(seen: list[bytes]) -> Callable[[socket.socket, bytes], None]:
    """An answer that keeps each request and answers it with a PingResponse."""

    def answer(conn: socket.socket, request: bytes) -> None:
        seen.append(request)
        conn.sendall(PING_ANSWER)

    return answer


def test_request_bytes_name_the_route_host_and_length():
    seen: list[bytes] = []
    with raw_server(recorder(seen)) as url, BBSClient(url) as client:
        assert client.ping()
    head = seen[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /v1/ping HTTP/1.1\r\n")
    assert f"Host: {url[len('http://'):]}" in head
    assert "Content-Type: application/x-protobuf" in head and "Content-Length: 0" in head
    assert "X-Vcap-Request-Id: " in head and "User-Agent: pytest-diego/" in head


def test_chunked_body_split_across_reads():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for byte in PING:  # one chunk per byte, one write each
            conn.sendall(b"1\r\n" + bytes([byte]) + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    with raw_server(answer) as url, BBSClient(url) as client:
        assert client.ping()


def test_body_delimited_by_the_connection_closing():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\n" + PING)

    with raw_server(answer) as url, BBSClient(url) as client:
        assert client.ping() and client.ping()  # HTTP/1.0: never pooled, a new connection each


def test_a_non_http_answer_is_a_clear_error():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    with raw_server(answer) as url, BBSClient(url) as client, \
            pytest.raises(BBSProtocolError, match=r"not an HTTP response .*SSH-2\.0") as caught:
        client.ping()
    assert url in str(caught.value) and str(caught.value).endswith("check url")


def test_headers_cut_mid_way_are_an_incomplete_read():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Len")

    with raw_server(answer) as url, BBSClient(url) as client, \
            pytest.raises(BBSConnectionError, match="IncompleteRead"):
        client.ping()


def test_router_error_header_is_found_whatever_its_case():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nx-cf-routererror: endpoint_failure\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    with raw_server(answer) as url, BBSClient(url) as client, \
            pytest.raises(BBSError, match="endpoint_failure") as caught:
        client.ping()
    assert caught.value.type == "RouterError"


def test_interim_100_continue_is_skipped():
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.sendall(PING_ANSWER)

    with raw_server(answer) as url, BBSClient(url) as client:
        assert client.ping()


def test_bytes_after_the_response_are_refused_not_handed_to_the_next_request():
    def answer(conn: socket.socket, request: bytes) -> None:
        first = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PING) + PING
        conn.sendall(first + b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")

    with raw_server(answer) as url, BBSClient(url) as client, \
            pytest.raises(BBSProtocolError, match="more bytes after the response"):
        client.ping()


def test_chunked_body_cut_by_the_connection_closing_is_an_incomplete_read():
    def answer(conn: socket.socket, request: bytes) -> None:  # "Chunked": the name's case is free
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nab")

    with raw_server(answer) as url, BBSClient(url) as client, \
            pytest.raises(BBSConnectionError, match="IncompleteRead"):
        client.ping()


def test_host_header_never_carries_url_credentials():
    seen: list[bytes] = []
    with raw_server(recorder(seen)) as url:
        port = url.rsplit(":", 1)[1]
        with BBSClient(f"http://user:secret@127.0.0.1:{port}") as client:
            assert client.ping()
    assert b"secret" not in seen[0] and f"Host: 127.0.0.1:{port}\r\n".encode() in seen[0]


def test_an_idle_connection_the_bbs_closed_is_dropped_before_use():
    """Closed while idle (restart, idle timeout): the next call opens a fresh connection and
    succeeds; nothing is sent twice, since nothing was sent on the closed one."""
    requests_seen: list[bytes] = []

    def answer(conn: socket.socket, request: bytes) -> None:  # one answer, then the server closes
        requests_seen.append(request)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PING) + PING)

    with raw_server(answer) as url, BBSClient(url) as client:
        assert client.ping()
        time.sleep(0.1)  # the server's close reaches the pooled connection
        assert client.ping()
    assert len(requests_seen) == 2
