"""Assembles the router: route table, proxy listener, admin listener and the stale-endpoint pruner.

Usable in-process (unit tests start one per test) and from ``python -m
pytest_diego.cluster.router``.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from pytest_diego.cluster.component import bound_address, serve_in_thread, server_url
from pytest_diego.cluster.router.admin import make_admin_handler
from pytest_diego.cluster.router.metrics import RouterMetrics
from pytest_diego.cluster.router.proxy import BackendPool, make_proxy_handler
from pytest_diego.cluster.router.status import StatusCredentials
from pytest_diego.cluster.router.table import RouteTable
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


class Router:
    """A running router; ``url`` is the proxy, ``admin_url`` takes registrations and serves the
    status routes, ``status_url`` is ``admin_url`` with the status credentials (default: a new
    random pair)."""

    def __init__(self, timing: Timing, logger: Logger, host: str = "127.0.0.1", port: int = 0,
                 admin_port: int = 0, backend_timeout: float = 30.0,
                 credentials: StatusCredentials | None = None) -> None:
        self.timing = timing
        self.credentials = credentials or StatusCredentials.generate()
        self.logger = logger
        self.table = RouteTable(prune_threshold=timing.router_prune_threshold)
        self.metrics = RouterMetrics(self.table.route_count)
        self.backends = BackendPool(timeout=backend_timeout)
        self._stop = threading.Event()
        self._proxy = serve_in_thread(
            make_proxy_handler(self.table, self.backends, self.metrics, logger), host, port, "proxy"
        )
        self._admin = serve_in_thread(make_admin_handler(self.table, self.metrics, logger,
                                                         self.credentials), host, admin_port, "admin")
        self._pruner = threading.Thread(target=self._prune_loop, name="pruner", daemon=True)
        self._pruner.start()
        logger.info("started", url=self.url, admin_url=self.admin_url,
                    prune_threshold=timing.router_prune_threshold,
                    prune_interval=timing.router_prune_interval)

    @property
    def url(self) -> str:
        return server_url(self._proxy)

    @property
    def admin_url(self) -> str:
        return server_url(self._admin)

    @property
    def status_url(self) -> str:
        """``admin_url`` with the status credentials in it: a secret, never print it."""
        host, port = bound_address(self._admin)
        return f"http://{quote(self.credentials.user, safe='')}:" \
               f"{quote(self.credentials.password, safe='')}@{host}:{port}"

    def _prune_loop(self) -> None:
        while not self._stop.wait(self.timing.router_prune_interval):
            pruned = self.table.prune()
            if pruned:
                self.metrics.pruned.inc(pruned)
                self.logger.info("prune.pruned-stale-endpoints", count=pruned)

    def close(self) -> None:
        self._stop.set()
        stoppers = [threading.Thread(target=server.shutdown) for server in (self._proxy, self._admin)]
        for stopper in stoppers:  # each shutdown waits out a poll interval: wait them together
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in (self._proxy, self._admin):
            server.server_close()
        self.backends.close()
        self.logger.info("exited")
