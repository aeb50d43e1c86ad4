"""A tiny local HTTP server whose answers each test scripts (a router, a /metrics endpoint)."""

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

Handler = Callable[[BaseHTTPRequestHandler], None]


class LocalServer:
    def __init__(self) -> None:
        self.handler: Handler = lambda req: self.send(req, 200, b"")
        outer = self

        class _Request(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.handler(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Request)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/plain") -> None:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    @staticmethod
    def hang(req: BaseHTTPRequestHandler) -> None:
        """Accept the request and never answer (bounded, so the server can shut down)."""
        time.sleep(3)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()
