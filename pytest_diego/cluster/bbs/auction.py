"""Hands start work to the auctioneer with Diego's auctioneer API (JSON, 202 Accepted).

Desire LRP hands its batch over before it answers, like Diego's DesireDesiredLRP; every other
start (scale-up, crash restarts, convergence, tasks) is queued and sent by one background thread
that batches whatever piled up. Without an auctioneer URL the requests are logged and dropped,
so the BBS can be tested alone.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from pytest_diego.bbs import models
from pytest_diego.lager import Logger


def lrp_start_request(lrp: models.DesiredLRP, indices: list[int]) -> dict[str, Any]:
    return {
        "process_guid": lrp.process_guid,
        "domain": lrp.domain,
        "indices": list(indices),
        "memory_mb": lrp.memory_mb,
        "disk_mb": lrp.disk_mb,
        "max_pids": lrp.max_pids,
        "root_fs": lrp.root_fs,
        "placement_tags": list(lrp.PlacementTags),
    }


def task_start_request(task: models.Task) -> dict[str, Any]:
    definition = task.task_definition
    return {
        "task_guid": task.task_guid,
        "domain": task.domain,
        "memory_mb": definition.memory_mb,
        "disk_mb": definition.disk_mb,
        "max_pids": definition.max_pids,
        "root_fs": definition.root_fs,
        "placement_tags": list(definition.placement_tags),
    }


class AuctioneerClient:
    """Sends LRP and Task start requests to ``url`` (or drops them when ``url`` is None)."""

    def __init__(self, url: str | None, logger: Logger, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") if url else None
        self._logger = logger
        self._timeout = timeout
        self._local = threading.local()
        self._cond = threading.Condition()
        self._lrps: list[dict[str, Any]] = []
        self._tasks: list[dict[str, Any]] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="bbs-auction-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=self._timeout + 1)

    def send_lrps(self, starts: list[dict[str, Any]]) -> None:
        """Hand LRP starts over now (DesireDesiredLRP); a failure is logged, not raised: the
        instances stay UNCLAIMED and convergence re-auctions them, as in Diego."""
        if starts:
            self._post("/v1/lrps/auctions", starts)

    def request_lrps(self, starts: list[dict[str, Any]]) -> None:
        if starts:
            with self._cond:
                self._lrps.extend(starts)
                self._cond.notify()

    def request_tasks(self, starts: list[dict[str, Any]]) -> None:
        if starts:
            with self._cond:
                self._tasks.extend(starts)
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._lrps or self._tasks or self._stopping):
                    self._cond.wait()
                if self._stopping:
                    return
                lrps, self._lrps = self._lrps, []
                tasks, self._tasks = self._tasks, []
            if lrps:
                self._post("/v1/lrps/auctions", lrps)
            if tasks:
                self._post("/v1/tasks/auctions", tasks)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, path: str, body: list[dict[str, Any]]) -> None:
        if self.url is None:
            self._logger.debug("auction-request.dropped-no-auctioneer", path=path, count=len(body))
            return
        try:
            response = self._session().post(self.url + path, json=body, timeout=self._timeout)
            if response.status_code != 202:
                self._logger.error("auction-request.failed", path=path, count=len(body),
                                   status=response.status_code)
        except requests.RequestException as e:
            self._logger.error("auction-request.failed", e, path=path, count=len(body))
