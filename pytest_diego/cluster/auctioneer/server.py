"""The auctioneer's HTTP API: Diego's two auction routes (JSON, answered 202) and ``GET /metrics``."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from prometheus_client import CONTENT_TYPE_LATEST

from pytest_diego.cluster.auctioneer.batch import lrp_starts, task_start
from pytest_diego.cluster.auctioneer.metrics import AuctioneerMetrics
from pytest_diego.cluster.auctioneer.runner import AuctionRunner
from pytest_diego.lager import Logger


def make_handler(runner: AuctionRunner, metrics: AuctioneerMetrics, logger: Logger
                 ) -> type[BaseHTTPRequestHandler]:
    class AuctioneerHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pytest-diego-auctioneer"

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are logged through lager

        def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, b'{"error":"not found"}')

        def do_POST(self) -> None:
            started = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            route = {"/v1/lrps/auctions": "lrps", "/v1/tasks/auctions": "tasks"}.get(self.path)
            if route is None:
                self._reply(404, b'{"error":"not found"}')
                return
            session = logger.session(f"{route[:-1]}-auction-handler")
            try:
                requests = json.loads(body)
                if not isinstance(requests, list):
                    raise ValueError("expected a JSON array of start requests")
                if route == "lrps":
                    starts = [s for r in requests for s in lrp_starts(r)]
                    runner.batch.add(lrps=starts)
                else:
                    starts = [task_start(r) for r in requests]
                    runner.batch.add(tasks=starts)
            except ValueError as e:
                session.error("malformed-request", e)
                self._reply(400, json.dumps({"error": str(e)}).encode())
                return
            session.info("submitted", count=len(starts))
            self._reply(202)
            metrics.request_served(time.monotonic() - started)

    return AuctioneerHandler
