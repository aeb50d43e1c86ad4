"""The router's admin port: gorouter's status listener, plus what stands in for NATS and Loggregator.

- ``GET /routes``: gorouter's route table, behind HTTP basic auth like gorouter's status listener
  (401 ``Unauthorized`` with ``WWW-Authenticate: Basic`` otherwise); ``GET /health``: ``ok``, no
  auth, as gorouter answers it.
- ``POST /register``/``/unregister``: the route emitter's router.register/unregister messages,
  which reach gorouter over NATS (with NATS' own credentials, not the status user's).
- ``GET /metrics``: the router's metrics as the metrics agent would publish them (gorouter sends
  them through Loggregator, not its status port); ``GET /ping``.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_diego.cluster.component import ComponentHandler
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.cluster.router.metrics import RouterMetrics
from pytest_diego.cluster.router.status import StatusCredentials
from pytest_diego.cluster.router.table import InvalidRegistration, RouteTable, validate_message
from pytest_diego.lager import Logger


def make_admin_handler(
    table: RouteTable, metrics: RouterMetrics, logger: Logger, credentials: StatusCredentials
) -> type[BaseHTTPRequestHandler]:
    class AdminHandler(ComponentHandler):
        server_version = "pytest-diego-router-admin"

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            self.reply(status, body, content_type, headers)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/routes":
                if not credentials.accepts(self.headers.get("Authorization")):
                    self._send(401, b"401 Unauthorized\n", "text/plain; charset=utf-8",
                               {"WWW-Authenticate": "Basic"})
                    return
                self._send(200, json.dumps(table.snapshot()).encode() + b"\n")
            elif path == "/health":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE)
            elif path == "/ping":
                self._send(200, b"{}")
            else:
                self._error(404, f"no route GET {self.path}; try /routes, /health, /metrics or /ping")

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
