"""``RequestRecorder``: the BBS client's observer, so every request is measured.

Attach with ``BBSClient(url, observer=RequestRecorder(measurements))``. Each call records into
``RequestLatency`` (every request) and ``RequestLatency.<RouteName>``: latency, and the outcome
(``"ok"``, an ``Error.Type`` name or a transport failure class), so ``rate`` is the share that
succeeded and failures are counted by type. Samples are bucketed in time by when the request
ended, which is when the observer is called.
"""

from __future__ import annotations

from pytest_diego.measure import names
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metrics import Trend


class RequestRecorder:
    """``observer(route, started_at, duration, outcome)`` for ``BBSClient``; thread-safe."""

    def __init__(self, measurements: Measurements) -> None:
        self.measurements = measurements
        self._all = measurements.trend(names.REQUEST_LATENCY)
        self._routes: dict[str, Trend] = {}

    def __call__(self, route: str, started_at: float, duration: float, outcome: str) -> None:
        ended = started_at + duration
        self._all.record(ended, duration, outcome)
        trend = self._routes.get(route)
        if trend is None:
            trend = self._routes[route] = self.measurements.trend(names.request_latency(route))
        trend.record(ended, duration, outcome)
