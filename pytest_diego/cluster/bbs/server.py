"""``BBSServer``: the embedded BBS assembled from its parts, startable in-process or as a process.

    server = BBSServer(BBSConfig(state_dir=tmp_path)).start()
    BBSClient(server.url).ping()
    server.stop()
"""

from __future__ import annotations

import os
from typing import Any

from pytest_diego.cluster.bbs.api import Api
from pytest_diego.cluster.bbs.auction import AuctioneerClient
from pytest_diego.cluster.bbs.config import BBSConfig, ConfigError, parse_listen
from pytest_diego.cluster.bbs.convergence import Converger
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.db import Database, StoreError, Writer, redact_dsn
from pytest_diego.cluster.bbs.events import Hub
from pytest_diego.cluster.bbs.httpserver import Request, Response, Server
from pytest_diego.cluster.bbs.metrics import Metrics
from pytest_diego.cluster.bbs.rep import Outbound
from pytest_diego.cluster.bbs.state import State
from pytest_diego.cluster.bbs.tlsconf import server_context
from pytest_diego.lager import Logger

REPORT_INTERVAL = 60.0
"""Diego's BBS report_interval: the window RequestLatency's maximum is taken over."""


class BBSServer:
    """The BBS listener, the health/metrics listener, the store, convergence and event hub."""

    def __init__(self, config: BBSConfig, logger: Logger | None = None) -> None:
        self.config = config
        self._own_logger = logger is None
        self.logger = logger or Logger("bbs", config.log_path)
        self._started = False
        self.core: Core | None = None
        self.metrics: Metrics | None = None
        self.api: Api | None = None
        self._parts: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> BBSServer:
        """Open the store, load it, and serve; on any failure, undo what was started and raise."""
        try:
            return self._start()
        except BaseException:
            self._started = True
            self.stop()
            raise

    def _start(self) -> BBSServer:
        cfg = self.config
        host, port = parse_listen(cfg.listen, cfg.allow_non_loopback)
        health_host, health_port = parse_listen(cfg.health_listen, False, "--health-listen")
        tls = server_context(cfg.tls_ca, cfg.tls_cert, cfg.tls_key) if cfg.tls else None  # type: ignore[arg-type]
        log = self.logger
        log.info("starting", db=redact_dsn(cfg.dsn), time_scale=cfg.time_scale, tls=cfg.tls)

        db = Database(cfg.dsn)
        conn = db.connect()
        try:
            applied = db.migrate(conn)
            state = State()
            state.load(db, conn)
        except Exception as e:
            conn.close()
            raise StoreError(f"cannot open the BBS store {redact_dsn(cfg.dsn)}: {e}") from e
        log.info("store-loaded", migrations_applied=applied, desired_lrps=len(state.desired),
                 actual_lrps=sum(len(v) for v in state.actuals.values()), tasks=len(state.tasks))

        hub = Hub()
        state.publish = hub.publish
        writer = Writer(db, conn, lambda e: log.error("store.write-failed", e))
        state.writer = writer
        self._parts.append(writer)
        timing = cfg.timing
        auctioneer = AuctioneerClient(cfg.auctioneer_url, log)
        auctioneer.start()
        self._parts.append(auctioneer)
        outbound = Outbound(log)
        self._parts.append(outbound)
        self.core = core = Core(state, timing, log, auctioneer, outbound, hub, cfg.max_task_retries)
        self.metrics = metrics = Metrics(core.counters, REPORT_INTERVAL * cfg.time_scale)
        self.api = Api(core, metrics)

        def on_error(what: str, detail: object) -> None:
            log.error(f"http.{what}", detail)

        self._parts.append(hub)
        self.bbs_listener = self._listen(cfg.listen, host, port, self.api, tls, on_error)
        self.health_listener = self._listen(cfg.health_listen, health_host, health_port, self._health,
                                            None, on_error)
        self.converger = Converger(core, metrics, cfg.interval)
        self.converger.start()
        self._parts.append(self.converger)
        self._started = True
        log.info("started", url=self.url, health_url=self.health_url)
        return self

    def _listen(self, spec: str, host: str, port: int, app: Any, tls: Any, on_error: Any) -> Server:
        try:
            server = Server((host, port), app, tls, on_error)
        except OSError as e:
            raise ConfigError(f"cannot listen on {spec}: {e.strerror or e}; pick a free port or 0") from e
        server.start()
        self._parts.append(server)
        return server

    def stop(self) -> None:
        """End event streams, stop convergence and the listeners, the senders, the store last."""
        if not self._started:
            return
        self._started = False
        if self.api is not None:
            self.api.stopping = True
        for part in self._parts:  # end event streams before their listener goes
            if isinstance(part, Hub):
                part.close()
        for part in reversed(self._parts):
            try:
                if not isinstance(part, Hub):
                    part.stop()
            except Exception as e:  # keep stopping the rest
                self.logger.error("stop-failed", e, part=type(part).__name__)
        self._parts.clear()
        if self.core is not None:
            self.logger.info("stopped")
        if self._own_logger:
            self.logger.close()

    def __enter__(self) -> BBSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.bbs_listener.server_address[:2]
        return f"{'https' if self.config.tls else 'http'}://{_host(host)}:{port}"

    @property
    def health_url(self) -> str:
        host, port = self.health_listener.server_address[:2]
        return f"http://{_host(host)}:{port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.health_url}/metrics"

    def run_info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "url": self.url, "health_url": self.health_url,
                "metrics_url": self.metrics_url}

    # -- operations for tests and tools ------------------------------------------------------
    def converge(self) -> None:
        """Run LRP and Task convergence now (the loop also runs it every interval)."""
        self.converger.run_once()

    def _health(self, request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b"the health listener takes GET\n", "text/plain")
        if request.path == "/ping":
            return Response(200, b"", "text/plain")
        if request.path == "/metrics":
            assert self.metrics is not None
            return Response(200, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        return Response(404, b"health listener routes: GET /ping, GET /metrics\n", "text/plain")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
