"""Calls the BBS makes to cells (reps) and to task owners: stop an instance, cancel a task (Diego's
rep API, ``pytest_diego.rep.RepClient``, over mutual TLS when the BBS has the rep client files),
POST a task's completion callback. All run on a worker pool, off the request path."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from pytest_diego.lager import Logger
from pytest_diego.rep import RepClient, RepError


class Outbound:
    """A worker pool for HTTP calls out of the BBS; each worker keeps its own keep-alive session."""

    def __init__(self, logger: Logger, workers: int = 16, timeout: float = 10.0,
                 reps: RepClient | None = None) -> None:
        self._logger = logger
        self._timeout = timeout
        self.reps = reps or RepClient(timeout=timeout)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bbs-outbound")

    def submit(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # pool shut down: the BBS is stopping
            self._pool.submit(fn, *args)

    def post(self, url: str, json: Any = None) -> int | None:
        """POST and return the status, or None when the target could not be reached."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            return session.post(url, json=json, timeout=self._timeout).status_code
        except requests.RequestException as e:
            self._logger.error("outbound-request.failed", e, url=url)
            return None

    def stop_lrp_instance(self, rep_url: str, process_guid: str, instance_guid: str) -> bool:
        """The rep's StopLRPInstance; False when the rep could not be reached or refused."""
        try:
            self.reps.stop_lrp_instance(rep_url, process_guid, instance_guid)
        except RepError as e:
            self._logger.error("rep-client.stop-lrp-instance-failed", e)
            return False
        return True

    def cancel_task(self, rep_url: str, task_guid: str) -> None:
        """The rep's CancelTask; a failure is logged (the Task is cancelled in the BBS already)."""
        try:
            self.reps.cancel_task(rep_url, task_guid)
        except RepError as e:
            self._logger.error("rep-client.cancel-task-failed", e)

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.reps.close()
