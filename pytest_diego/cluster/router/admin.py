"""The router's admin port: the route emitter's register/unregister messages arrive here (instead
of over NATS), and the route table and metrics are read from here."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_diego.cluster.router.metrics import RouterMetrics
from pytest_diego.cluster.router.table import InvalidRegistration, RouteTable, validate_message
from pytest_diego.lager import Logger


def make_admin_handler(
    table: RouteTable, metrics: RouterMetrics, logger: Logger
) -> type[BaseHTTPRequestHandler]:
    class AdminHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pytest-diego-router-admin"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode())

        def do_GET(self) -> None:
            if self.path == "/routes":
                self._send(200, json.dumps(table.snapshot()).encode())
            elif self.path == "/metrics":
                self._send(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            elif self.path == "/ping":
                self._send(200, b"{}")
            else:
                self._error(404, f"no route GET {self.path}; try /routes, /metrics or /ping")

        def do_POST(self) -> None:
            if self.path not in ("/register", "/unregister"):
                self._error(404, f"no route POST {self.path}; try /register or /unregister")
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                payload: Any = json.loads(self.rfile.read(length) or b"null")
            except ValueError as exc:
                self._error(400, f"body is not JSON: {exc}")
                return
            messages = payload if isinstance(payload, list) else [payload]
            action = self.path.lstrip("/")
            apply = table.register if action == "register" else table.unregister
            try:
                for message in messages:
                    validate_message(message)
            except InvalidRegistration as exc:
                logger.error(f"{action}.invalid-message", exc)
                self._error(400, str(exc))
                return
            for message in messages:
                apply(message)
            metrics.registrations.labels(action=action).inc(len(messages))
            self._send(200, json.dumps({"accepted": len(messages)}).encode())

    return AdminHandler
