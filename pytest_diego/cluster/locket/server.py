"""``LocketServer``: the embedded Locket, startable in-process or as a process.

    server = LocketServer(LocketConfig(state_dir=tmp_path)).start()
    LocketClient(server.address).fetch_all(models.PRESENCE)
    server.stop()

The gRPC server (grpc.aio) and everything that touches the locks run on one event loop in a
thread of their own, so calls never race and need no lock; the health/metrics listener is plain
HTTP on its own thread; the caller's thread stays free to wait for signals.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import grpc

from pytest_diego.cluster.component import ComponentHandler, FastHTTPServer, serve_in_thread, server_url
from pytest_diego.cluster.locket.config import ConfigError, LocketConfig
from pytest_diego.cluster.locket.expiration import LockPick
from pytest_diego.cluster.locket.handler import LocketHandler, log_expired
from pytest_diego.cluster.locket.metrics import LocketMetrics
from pytest_diego.cluster.locket.store import LockStore
from pytest_diego.cluster.locket.tls import server_credentials
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.lager import Logger
from pytest_diego.locket._pb.locket_pb2_grpc import add_LocketServicer_to_server

START_TIMEOUT = 30.0
STOP_GRACE = 1.0


class LocketServer:
    """The Locket gRPC listener, its lock store and expiry timers, and the health listener."""

    def __init__(self, config: LocketConfig, logger: Logger | None = None) -> None:
        self.config = config
        self._own_logger = logger is None
        self.logger = logger or Logger("locket", config.log_path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._grpc: grpc.aio.Server | None = None
        self._health: FastHTTPServer | None = None
        self.store: LockStore | None = None
        self.pick: LockPick | None = None
        self.metrics: LocketMetrics | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> LocketServer:
        """Open the store, register every stored lock's TTL, and serve; on failure undo and raise."""
        cfg = self.config
        credentials = server_credentials(cfg.tls_ca, cfg.tls_cert, cfg.tls_key) if cfg.tls else None  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="locket-grpc", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._serve(credentials), self._loop).result(START_TIMEOUT)
            self._health = self._listen_health()
        except BaseException:
            self.stop()
            raise
        self.logger.info("started", address=self.address, tls=cfg.tls, time_scale=cfg.time_scale,
                         db=str(cfg.db_path))
        return self

    async def _serve(self, credentials: grpc.ServerCredentials | None) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self.store = store = LockStore(cfg.db_path)
        self.pick = pick = LockPick(loop, store, cfg.time_scale, functools.partial(log_expired, self.logger))
        self.metrics = LocketMetrics(cfg.report_interval, lambda: dict(store.active),
                                     lambda: (pick.locks_expired, pick.presences_expired))
        stored = store.all()
        self.logger.info("burglar.started", locks=len(stored))
        for lock in stored:
            pick.register(lock, "burglar")
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        add_LocketServicer_to_server(LocketHandler(store, pick, self.metrics, self.logger), server)
        host, port = cfg.address
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = (server.add_secure_port(target, credentials) if credentials is not None
                     else server.add_insecure_port(target))
        except RuntimeError as e:
            raise ConfigError(f"cannot listen on {cfg.listen}: {e}; pick a free port or 0") from None
        self.port = bound
        await server.start()
        self._grpc = server
        self.logger.info("grpc-server.started", address=self.address)

    def _listen_health(self) -> FastHTTPServer:
        host, port = self.config.health_address
        try:
            return serve_in_thread(_health_handler(self), host, port, name="locket-health")
        except OSError as e:
            raise ConfigError(f"cannot listen on {self.config.health_listen}: {e.strerror or e}") from None

    def stop(self) -> None:
        """Stop serving, cancel the timers, close the store; the stored locks stay for a restart."""
        if self._health is not None:
            self._health.shutdown()
            self._health.server_close()
            self._health = None
        loop, self._loop = self._loop, None
        if loop is not None:
            if self._grpc is not None:
                asyncio.run_coroutine_threadsafe(self._grpc.stop(STOP_GRACE), loop).result(STOP_GRACE + 5)
                self._grpc = None
                self.logger.info("grpc-server.complete")
            if self.pick is not None:
                loop.call_soon_threadsafe(self.pick.close)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            loop.close()
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._own_logger:
            self.logger.close()

    def __enter__(self) -> LocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """``host:port`` of the gRPC listener: Diego's ``locket_address``."""
        host = self.config.address[0]
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def health_url(self) -> str:
        assert self._health is not None
        return server_url(self._health)

    @property
    def metrics_url(self) -> str:
        return f"{self.health_url}/metrics"

    def run_info(self) -> dict[str, Any]:
        """The run file: ``address`` is the gRPC target; ``url`` repeats it for the run-file contract."""
        return {"pid": os.getpid(), "address": self.address, "url": self.address, "tls": self.config.tls,
                "health_url": self.health_url, "metrics_url": self.metrics_url}


def _health_handler(server: LocketServer) -> type[BaseHTTPRequestHandler]:
    class Handler(ComponentHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics" and server.metrics is not None:
                self.reply(200, server.metrics.render(), CONTENT_TYPE)
            elif self.path == "/ping":
                self.reply(200, b"", "text/plain")
            else:
                self.reply(404, b"health listener routes: GET /ping, GET /metrics\n", "text/plain")

    return Handler
