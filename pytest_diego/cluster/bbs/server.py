"""``BBSServer``: the embedded BBS assembled from its parts, startable in-process or as a process.

    server = BBSServer(BBSConfig(state_dir=tmp_path)).start()
    BBSClient(server.url).ping()
    server.stop()

With a Locket (``locket_address``), as in Diego: cells are the presences Locket holds, and the
BBS serves its API and converges only while it holds the ``bbs`` lock. Until it first holds it,
``start`` waits; a lost lock closes the API listener and stops convergence until the lock is
held again, on the same address (Diego's BBS exits and monit starts it again).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from pytest_diego.cluster.bbs.api import Api
from pytest_diego.cluster.bbs.auction import AuctioneerClient
from pytest_diego.cluster.bbs.cells import CellDirectory
from pytest_diego.cluster.bbs.config import BBSConfig, ConfigError, parse_listen
from pytest_diego.cluster.bbs.convergence import Converger
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.db import Database, StoreError, Writer, redact_dsn
from pytest_diego.cluster.bbs.events import Hub
from pytest_diego.cluster.bbs.httpserver import Request, Response, Server
from pytest_diego.cluster.bbs.metrics import Metrics
from pytest_diego.cluster.bbs.recovery import StoreRecovery
from pytest_diego.cluster.bbs.rep import Outbound
from pytest_diego.cluster.bbs.state import State
from pytest_diego.cluster.bbs.tlsconf import server_context
from pytest_diego.cluster.component import bound_address
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient
from pytest_diego.locket.errors import LocketConfigError
from pytest_diego.locket.lock_runner import LockRunner
from pytest_diego.locket.models import DEFAULT_SESSION_TTL
from pytest_diego.rep import RepClient

REPORT_INTERVAL = 60.0
"""Diego's BBS report_interval: the window RequestLatency's maximum is taken over."""
LOCK_KEY = "bbs"
LOCK_WAIT = 60.0
"""Seconds ``start`` waits for the lock by default (the process waits as long as it takes)."""


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
        self.lock: LockRunner | None = None
        self.bbs_listener: Server | None = None
        self.health_listener: Server | None = None
        self.converger: Converger | None = None
        self.serving = threading.Event()
        self._serve_lock = threading.Lock()
        self._address: tuple[str, int] = ("", 0)
        self._tls: Any = None
        self._parts: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, lock_wait: float | None = LOCK_WAIT) -> BBSServer:
        """Open the store, load it, and serve once the ``bbs`` lock is held (at once without a
        Locket); waits ``lock_wait`` seconds for it (None: start the lock runner and return).
        On any failure, undo what was started and raise."""
        try:
            self._start()
            if lock_wait is not None and not self.serving.wait(lock_wait):
                raise ConfigError(f"the BBS did not get the {LOCK_KEY!r} lock from Locket at "
                                  f"{self.config.locket_address} within {lock_wait:g} s: is Locket "
                                  "running, and does another BBS hold the lock?")
            return self
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
        recovery = StoreRecovery(db, state, writer, log)
        recovery.start()
        self._parts.append(recovery)
        timing = cfg.timing
        auctioneer = AuctioneerClient(cfg.auctioneer_url, log)
        auctioneer.start()
        self._parts.append(auctioneer)
        outbound = Outbound(log, reps=RepClient(ca_file=cfg.rep_ca_cert, cert_file=cfg.rep_client_cert,
                                                 key_file=cfg.rep_client_key))
        self._parts.append(outbound)
        cells = CellDirectory(self._locket_client(), log)
        self._parts.append(cells)
        self.core = core = Core(state, timing, log, auctioneer, outbound, hub, cells, cfg.max_task_retries)
        self.metrics = Metrics(core.counters, REPORT_INTERVAL * cfg.time_scale)
        self.api = Api(core, self.metrics)
        self._parts.append(hub)
        self._address, self._tls = (host, port), tls
        self.health_listener = self._listen(cfg.health_listen, health_host, health_port, self._health, None)
        self._started = True
        if cells.locket is None:
            log.info("locket.not-configured")
            self._serve()
        else:
            owner = cfg.lock_owner or str(uuid.uuid4())
            self.lock = LockRunner(cells.locket, LOCK_KEY, owner, ttl_in_seconds=DEFAULT_SESSION_TTL,
                                   retry_interval=timing.lock_retry_interval, logger=log,
                                   on_acquired=self._elected, on_lost=self._deposed).start()
        return self

    def _locket_client(self) -> LocketClient | None:
        cfg = self.config
        if not cfg.locket_address:
            return None
        try:
            return LocketClient(cfg.locket_address, ca_file=cfg.locket_ca_cert,
                                cert_file=cfg.locket_client_cert, key_file=cfg.locket_client_key)
        except LocketConfigError as e:
            raise ConfigError(f"--locket-address and its TLS files: {e}") from e

    def _elected(self) -> None:
        assert self.metrics is not None
        self.metrics.lock_held.set(1)
        self.metrics.master_elected.set(1)
        self._serve()

    def _deposed(self) -> None:
        assert self.metrics is not None
        self.metrics.lock_held.set(0)
        self._unserve()

    def _serve(self) -> None:
        """Open the API listener (on the address of the first one) and start converging."""
        assert self.core is not None and self.metrics is not None
        with self._serve_lock:
            if self.serving.is_set() or not self._started:
                return
            self.api.stopping = False  # type: ignore[union-attr]
            self.bbs_listener = self._listen(self.config.listen, *self._address, self.api, self._tls)
            self._address = (self._address[0], self.bbs_listener.port)
            self.converger = Converger(self.core, self.metrics, self.config.interval)
            self.converger.start()
            self.serving.set()
        self.logger.info("started", url=self.url, health_url=self.health_url)

    def _unserve(self) -> None:
        """Stop serving: end event streams, close the API listener, stop converging."""
        with self._serve_lock:
            if not self.serving.is_set():
                return
            self.serving.clear()
            self.api.stopping = True  # type: ignore[union-attr]
            self.core.hub.close()  # type: ignore[union-attr]
            for part in (self.bbs_listener, self.converger):
                if part is not None:
                    part.stop()
        self.logger.info("stopped-serving", url=self.url)

    def _listen(self, spec: str, host: str, port: int, app: Any, tls: Any) -> Server:
        def on_error(what: str, detail: object) -> None:
            self.logger.error(f"http.{what}", detail)

        try:
            server = Server((host, port), app, tls, on_error)
        except OSError as e:
            raise ConfigError(f"cannot listen on {spec}: {e.strerror or e}; pick a free port or 0") from e
        server.start()
        return server

    def stop(self) -> None:
        """Release the lock, end event streams, stop convergence and the listeners, the senders,
        the store last."""
        if not self._started:
            return
        if self.lock is not None:
            self.lock.stop()
        self._unserve()
        self._started = False
        for part in self._parts:  # end event streams before their listener goes
            if isinstance(part, Hub):
                part.close()
        if self.health_listener is not None:
            self.health_listener.stop()
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
        host, port = self._address
        return f"{'https' if self.config.tls else 'http'}://{_host(host)}:{port}"

    @property
    def health_url(self) -> str:
        assert self.health_listener is not None
        host, port = bound_address(self.health_listener)
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
        assert self.converger is not None, "the BBS is not serving: it does not hold its lock"
        self.converger.run_once()

    def _health(self, request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b"the health listener takes GET\n", "text/plain")
        if request.path == "/ping":
            return Response(200, b"", "text/plain")
        if request.path == "/metrics":
            assert self.metrics is not None
            return Response(200, self.metrics.render(), CONTENT_TYPE)
        return Response(404, b"health listener routes: GET /ping, GET /metrics\n", "text/plain")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
