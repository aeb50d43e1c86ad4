"""A prototype ``BBSClient`` transport on ``http.client``, to measure the proposed client fix.

``BBSClient._exchange`` goes through ``requests``' adapter and urllib3 for every call: a
``PreparedRequest``, a ``CaseInsensitiveDict`` of headers, urllib3's pool bookkeeping and
response wrapping. Profiles (BENCHMARKS.md) put most of the client's CPU there. This subclass
keeps everything else (routes, observer, errors, decoding) and sends over pooled keep-alive
``http.client`` connections instead. Plain HTTP only; it exists to give the "after" figure.
"""

from __future__ import annotations

import http.client
import socket
import threading
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSConnectionError, BBSTimeoutError

PROTOBUF = "application/x-protobuf"


class FastBBSClient(BBSClient):
    """``BBSClient`` with an ``http.client`` connection pool (plain HTTP)."""

    def __init__(self, url: str, **kwargs: object) -> None:
        super().__init__(url, **kwargs)  # type: ignore[arg-type]
        parts = urlsplit(self.url)
        if parts.scheme != "http":
            raise ValueError("the prototype speaks plain HTTP only")
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._paths = {name: urlsplit(u).path for name, u in self._urls.items()}
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _exchange(self, route: str, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        headers = {"Content-Type": PROTOBUF, "Content-Length": str(len(body)),
                   "X-Vcap-Request-Id": str(uuid.uuid4()), "User-Agent": self._user_agent}
        for attempt in (0, 1):  # a pooled connection the server closed is retried once, fresh
            conn = self._connection()
            try:
                conn.request("POST", self._paths[route], body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
            except TimeoutError as exc:
                conn.close()
                raise BBSTimeoutError(f"the BBS at {self.url} did not answer {route} within "
                                      f"{self.timeout:g}s: {exc}", url=self.url) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if attempt == 0:
                    continue
                raise BBSConnectionError(f"could not connect to the BBS at {self.url}: {exc}",
                                         url=self.url) from exc
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
            return response.status, response.headers, content
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        super().close()
