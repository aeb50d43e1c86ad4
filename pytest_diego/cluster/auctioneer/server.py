"""The auctioneer's HTTP API: Diego's two auction routes (JSON, answered 202) and ``GET /metrics``."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from pytest_diego.cluster.auctioneer.batch import lrp_starts, task_start
from pytest_diego.cluster.auctioneer.metrics import AuctioneerMetrics
from pytest_diego.cluster.auctioneer.runner import AuctionRunner
from pytest_diego.cluster.component import ComponentHandler
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.lager import Logger


def make_handler(runner: AuctionRunner, metrics: AuctioneerMetrics, logger: Logger
                 ) -> type[BaseHTTPRequestHandler]:
    class AuctioneerHandler(ComponentHandler):
        server_version = "pytest-diego-auctioneer"

        def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
            self.reply(status, body, content_type)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, metrics.exposition(), CONTENT_TYPE)
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
                    lrps = [s for r in requests for s in lrp_starts(r)]
                    runner.batch.add(lrps=lrps)
                    count = len(lrps)
                else:
                    tasks = [task_start(r) for r in requests]
                    runner.batch.add(tasks=tasks)
                    count = len(tasks)
            except ValueError as e:
                session.error("malformed-request", e)
                self._reply(400, json.dumps({"error": str(e)}).encode())
                return
            session.info("submitted", count=count)
            self._reply(202)
            metrics.request_served(time.monotonic() - started)

    return AuctioneerHandler
