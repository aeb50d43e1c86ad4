"""The embedded Locket's metrics under Locket's names, as the metrics agent publishes them.

Locket sends every one of these as a Loggregator gauge, so they are gauges here too, published in
the metrics agent's format like every embedded component's (``cluster/metrics_agent.py``:
``source_id="locket"``; Locket's ``request-type`` tag becomes the ``request_type`` label):

- ``ActiveLocks``, ``ActivePresences``: held LOCK and PRESENCE resources, counted at the scrape.
- ``LocksExpired``, ``PresenceExpired``: expiries since start (running totals, as Locket sends).
- ``RequestsStarted``, ``RequestsSucceeded``, ``RequestsFailed`` per ``request_type`` (Lock,
  Release, Fetch, FetchAll): running totals. As in Locket, a lock-collision counts as succeeded.
- ``RequestLatencyMax`` per ``request_type``, seconds: the longest call in the report window
  (60 s x time-scale; Locket resets it at each report), shown as the max of this window and the
  last so it never reads 0 just after a window turns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from pytest_diego.cluster.metrics_agent import Point, Publisher, render

REQUEST_TYPES = ("Lock", "Release", "Fetch", "FetchAll")
PUBLISHER = Publisher("locket", "locket-0")


class _RequestCounts:
    __slots__ = ("failed", "latency_max", "latency_previous", "started", "succeeded")

    def __init__(self) -> None:
        self.started = self.succeeded = self.failed = 0
        self.latency_max = self.latency_previous = 0.0


class LocketMetrics:
    """Counted by the server's event loop, read by the metrics listener's thread."""

    def __init__(self, report_interval: float, active: Callable[[], dict[str, int]],
                 expired: Callable[[], tuple[int, int]]) -> None:
        self._window = report_interval
        self._active = active
        self._expired = expired
        self._lock = threading.Lock()
        self._requests = {name: _RequestCounts() for name in REQUEST_TYPES}
        self._window_start = time.monotonic()

    def started(self, request_type: str) -> None:
        with self._lock:
            self._requests[request_type].started += 1

    def finished(self, request_type: str, seconds: float, succeeded: bool) -> None:
        with self._lock:
            self._roll()
            counts = self._requests[request_type]
            if succeeded:
                counts.succeeded += 1
            else:
                counts.failed += 1
            counts.latency_max = max(counts.latency_max, seconds)

    def _roll(self) -> None:
        elapsed = time.monotonic() - self._window_start
        if elapsed < self._window:
            return
        for counts in self._requests.values():
            counts.latency_previous = counts.latency_max if elapsed < 2 * self._window else 0.0
            counts.latency_max = 0.0
        self._window_start = time.monotonic()

    def points(self) -> Iterator[Point]:
        active = self._active()
        locks_expired, presences_expired = self._expired()
        for name, value in (("ActiveLocks", active.get("lock", 0)),
                            ("ActivePresences", active.get("presence", 0)),
                            ("LocksExpired", locks_expired), ("PresenceExpired", presences_expired)):
            yield Point(name, "gauge", float(value))
        with self._lock:
            self._roll()
            rows = [(name, c.started, c.succeeded, c.failed, max(c.latency_max, c.latency_previous))
                    for name, c in self._requests.items()]
        names = ("RequestsStarted", "RequestsSucceeded", "RequestsFailed", "RequestLatencyMax")
        for index, name in enumerate(names):
            for request_type, *values in rows:
                yield Point(name, "gauge", float(values[index]), {"request_type": request_type})

    def render(self) -> bytes:
        return render(PUBLISHER, self.points())
