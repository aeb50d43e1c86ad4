"""Calls the BBS makes to cells (reps) and to task owners: stop an instance, cancel a task,
POST a task's completion callback. All run on a worker pool, off the request path."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from pytest_diego.lager import Logger


class Outbound:
    """A worker pool for HTTP calls out of the BBS; each worker keeps its own keep-alive session."""

    def __init__(self, logger: Logger, workers: int = 16, timeout: float = 10.0) -> None:
        self._logger = logger
        self._timeout = timeout
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

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def stop_lrp_url(rep_url: str, process_guid: str, instance_guid: str) -> str:
    """Diego's rep route ``POST /v1/lrps/:process_guid/instances/:instance_guid/stop``."""
    return f"{rep_url.rstrip('/')}/v1/lrps/{process_guid}/instances/{instance_guid}/stop"


def cancel_task_url(rep_url: str, task_guid: str) -> str:
    """Diego's rep route ``POST /v1/tasks/:task_guid/cancel``."""
    return f"{rep_url.rstrip('/')}/v1/tasks/{task_guid}/cancel"
