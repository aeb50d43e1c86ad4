"""In-process routers and tiny instance backends for the routing tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pytest_diego.cluster.component import FastHTTPServer
from pytest_diego.cluster.router import Router
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from tests.support.ports import free_port


class Backend:
    """An instance stand-in answering GET / with its name, counting the connections it accepts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connections = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                backend.connections += 1
                super().setup()

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"instance": backend.name, "path": self.path,
                                   "host": self.headers.get("Host")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = FastHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.host, self.port = self.server.server_address[:2]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    started = [Backend(f"b{i}") for i in range(3)]
    yield started
    for b in started:
        b.close()


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    logger = Logger("router", tmp_path / "router.log")
    r = Router(Timing(time_scale=0.01), logger)  # prune threshold 1.2 s, checked every 0.3 s
    yield r
    r.close()
    logger.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()
