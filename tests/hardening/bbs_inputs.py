"""A raw HTTP/1.1 exchange with the embedded BBS, for inputs no client would send. The wire-valid
examples the fuzzing mutates are ``pytest_diego.strategies.valid_examples``."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class ProtocolViolation(AssertionError):
    """The server answered with something that is not a well-formed HTTP/1.1 response."""


def exchange(port: int, method: str, path: str, body: bytes, headers: dict[str, str] | None = None,
             timeout: float = 10.0, stream: bool = False) -> RawResponse | None:
    """Send one request on a new connection and read one response. ``None`` when the server
    closed the connection without answering (allowed only for requests it cannot read)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    sent = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    head += "".join(f"{k}: {v}\r\n" for k, v in sent.items() if v is not None) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode("latin-1") + body)
        reader = sock.makefile("rb")
        try:
            status_line = reader.readline(65536)
        except ConnectionResetError:
            return None
        if not status_line:
            return None
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolViolation(f"malformed status line {status_line[:100]!r} for {method} {path}")
        got: dict[str, str] = {}
        while True:
            line = reader.readline(65536)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ProtocolViolation(f"headers cut off for {method} {path}")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolViolation(f"malformed header line {line[:100]!r}")
            got[name.strip().lower()] = value.strip()
        if stream or "chunked" in got.get("transfer-encoding", ""):
            return RawResponse(int(parts[1]), got, b"")
        if "content-length" not in got:
            raise ProtocolViolation(f"no Content-Length in the answer to {method} {path}")
        length = int(got["content-length"])
        data = reader.read(length)
        if len(data) != length:
            raise ProtocolViolation(f"body cut off: {len(data)} of {length} bytes for {method} {path}")
        return RawResponse(int(parts[1]), got, data)
