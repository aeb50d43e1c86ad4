"""The router's proxy port: pick an endpoint for the Host header and forward the request to it.

Behaves like gorouter where probes can see it: 404 with ``X-Cf-Routererror: unknown_route`` for a
host with no endpoints; a refused dial is retried on the next endpoint (up to three attempts, as
gorouter does); when all fail, or an endpoint times out or resets mid-request (not retried, the
request may have had effects), the answer is 502 with ``X-Cf-Routererror: endpoint_failure``.
Connections to backends are kept alive in a small per-endpoint pool.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler

from pytest_diego.cluster.component import ComponentHandler
from pytest_diego.cluster.router.metrics import RouterMetrics
from pytest_diego.cluster.router.table import RouteTable
from pytest_diego.lager import Logger

MAX_ATTEMPTS = 3
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "content-length"}
)


class BackendPool:
    """Idle keep-alive connections per backend address, reused across proxy threads."""

    def __init__(self, timeout: float, max_idle_per_endpoint: int = 16) -> None:
        self.timeout = timeout
        self.max_idle = max_idle_per_endpoint
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> tuple[http.client.HTTPConnection, bool]:
        """A connection to ``address`` and whether it was reused (a reused one may have gone stale)."""
        with self._lock:
            idle = self._idle.get(address)
            if idle:
                return idle.pop(), True
        host, _, port = address.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def give_back(self, address: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(address, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def discard(self, address: str) -> None:
        with self._lock:
            conns = self._idle.pop(address, [])
        for conn in conns:
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


class BackendRefused(Exception):
    """The endpoint could not be dialled: the instance is gone."""


def _exchange(
    pool: BackendPool, address: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One request/response with ``address``; a stale pooled connection is retried once fresh."""
    for _ in range(2):
        try:
            conn, reused = pool.take(address)
        except OSError as exc:
            raise BackendRefused(str(exc)) from exc
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            if reused:  # the backend closed it (or restarted): its other idle ones are stale too
                pool.discard(address)
                continue
            raise
        if response.will_close:
            conn.close()
        else:
            pool.give_back(address, conn)
        return response.status, response.reason, response.getheaders(), data
    raise BackendRefused(f"{address} closed every connection")


def make_proxy_handler(
    table: RouteTable, pool: BackendPool, metrics: RouterMetrics, logger: Logger
) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(ComponentHandler):  # no log line per request: it would dominate a probe sweep
        server_version = "pytest-diego-router"

        def _reply(self, status: int, body: bytes, router_error: str | None = None) -> None:
            headers = {"X-Cf-Routererror": router_error} if router_error else None
            metrics.observe_response(status)  # counted before sent: a client that saw it sees it counted
            self.reply(status, body, "text/plain; charset=utf-8", headers)

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _proxy(self) -> None:
            metrics.requests.inc()
            host = self.headers.get("Host", "")
            body = self._read_body()
            endpoints = table.lookup(host, attempts=MAX_ATTEMPTS)
            if not endpoints:
                metrics.unknown_routes.inc()
                self._reply(
                    404, f"404 Not Found: Requested route ('{host}') does not exist.\n".encode(),
                    "unknown_route",
                )
                return
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            headers.append(("X-Forwarded-For", self.client_address[0]))
            for endpoint in endpoints:
                try:
                    status, reason, resp_headers, data = _exchange(
                        pool, endpoint.address, self.command, self.path, headers, body
                    )
                except BackendRefused as exc:  # nothing was sent: safe to try the next endpoint
                    logger.debug("proxy.endpoint-refused", host=host, address=endpoint.address,
                                 error=str(exc))
                    continue
                except (OSError, http.client.HTTPException) as exc:  # timed out or reset mid-request
                    logger.debug("proxy.endpoint-failed", host=host, address=endpoint.address,
                                 error=str(exc))
                    break
                metrics.observe_response(status)
                self.send_response(status, reason)
                for name, value in resp_headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() not in ("server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                return
            metrics.bad_gateways.inc()
            self._reply(
                502, b"502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                "endpoint_failure",
            )

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _proxy

    return ProxyHandler
