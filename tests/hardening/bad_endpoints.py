"""Misbehaving HTTP endpoints on 127.0.0.1, one behaviour each, for the samplers and probes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[socket.socket, threading.Event], None]


def _answer(status: str, body: bytes, content_type: str = "text/plain") -> Behaviour:
    def run(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
    return run


def _hang(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    stop.wait(60)


def _half_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Ty")
    stop.wait(60)


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then the body a byte at a time, each just inside a read timeout."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.3):
        conn.sendall(b"#")


def _huge(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    chunk = b"# HELP x y\n" * 6000
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        conn.sendall(chunk)


def _close(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)


def _cut_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n# TYPE x gauge\nx 1\n")


BEHAVIOURS: dict[str, Behaviour] = {
    "binary garbage": _answer("200 OK", bytes(range(256)) * 8, "application/octet-stream"),
    "html page": _answer("200 OK", b"<html><body><h1>Welcome to nginx!</h1></body></html>", "text/html"),
    "json": _answer("200 OK", b'{"ConvergenceLRPDuration": 1.5}', "application/json"),
    "broken prometheus text": _answer("200 OK", b"# TYPE ConvergenceLRPDuration gauge\n"
                                                b"ConvergenceLRPDuration{cell=} one\n"),
    "not utf-8": _answer("200 OK", b"ConvergenceLRPDuration \xff\xfe\n"),
    "HTTP 500": _answer("500 Internal Server Error", b"oops"),
    "HTTP 404": _answer("404 Not Found", b"not here"),
    "hangs": _hang,
    "half the headers then hangs": _half_headers,
    "trickles the body": _trickle,
    "endless body": _huge,
    "closes at once": _close,
    "body cut short": _cut_body,
}


class BadEndpoint:
    """Serves one behaviour to every connection until ``close``."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/metrics"
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._run, daemon=True)
        self._accept.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            self.behaviour(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self._accept.join(timeout=5)
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
