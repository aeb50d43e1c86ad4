"""The auctioneer's batch: start requests pile up here until the next auction drains them.

Like ``auction:auctionrunner/batch.go`` there is no fixed interval: the auction loop sleeps on the
batch and wakes as soon as work arrives; whatever arrives during an auction waits for the next one.
Duplicates (same ``process_guid.index`` or ``task_guid``) collapse into the first request, as
Diego's ``DedupeAndDrain`` keeps the first of each.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from pytest_diego.cluster.auctioneer.scoring import LRPStart, TaskStart


def lrp_starts(request: dict[str, Any]) -> list[LRPStart]:
    """Expand one auctioneer-API LRP start request (several ``indices``) into one start per index."""
    try:
        indices = request["indices"]
        return [LRPStart(process_guid=request["process_guid"], index=int(i), domain=request["domain"],
                         memory_mb=int(request.get("memory_mb", 0)), disk_mb=int(request.get("disk_mb", 0)),
                         root_fs=request.get("root_fs", ""), max_pids=int(request.get("max_pids", 0)),
                         placement_tags=tuple(request.get("placement_tags") or ()))
                for i in indices]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"invalid LRP start request {request!r}: {e!r}") from e


def task_start(request: dict[str, Any]) -> TaskStart:
    try:
        return TaskStart(task_guid=request["task_guid"], domain=request["domain"],
                         memory_mb=int(request.get("memory_mb", 0)), disk_mb=int(request.get("disk_mb", 0)),
                         root_fs=request.get("root_fs", ""), max_pids=int(request.get("max_pids", 0)),
                         placement_tags=tuple(request.get("placement_tags") or ()))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"invalid task start request {request!r}: {e!r}") from e


class Batch:
    """Thread-safe, de-duplicating queue of LRP and Task starts."""

    def __init__(self) -> None:
        self._lrps: dict[str, LRPStart] = {}
        self._tasks: dict[str, TaskStart] = {}
        self._cond = threading.Condition()
        self._closed = False

    def add(self, lrps: Sequence[LRPStart] = (), tasks: Sequence[TaskStart] = ()) -> None:
        with self._cond:
            for lrp in lrps:
                self._lrps.setdefault(lrp.identifier, lrp)
            for task in tasks:
                self._tasks.setdefault(task.identifier, task)
            if self._lrps or self._tasks:
                self._cond.notify_all()

    def wait_for_work(self, timeout: float | None = None) -> bool:
        """Block until work is waiting (True), or the batch is closed or ``timeout`` passes (False)."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._lrps or self._tasks) or self._closed, timeout)
            return bool(self._lrps or self._tasks) and not self._closed

    def close(self) -> None:
        """Release a waiter for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drain(self) -> tuple[list[LRPStart], list[TaskStart]]:
        with self._cond:
            lrps, tasks = list(self._lrps.values()), list(self._tasks.values())
            self._lrps.clear()
            self._tasks.clear()
            return lrps, tasks
