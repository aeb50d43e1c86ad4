"""The BBS's metrics under Diego's names, recorded in its own CollectorRegistry and published in
the metrics agent's format (``cluster/metrics_agent.py``: ``source_id="bbs"``, durations in
``unit="nanos"``, counters as running totals).

- ``RequestCount`` (counter): all routes, and per route as Diego's advanced metrics name them,
  ``RequestCount.<Route>`` (published sanitized, ``RequestCount_DesireTask``).
- ``RequestLatency`` (gauge, a duration): like Diego, the maximum request latency over a reporting
  window (60 s x time-scale); the value shown is the max of the current and previous window, so
  it never drops to 0 just after a window turns. Total and per route, as above.
- ``ConvergenceLRPDuration``, ``ConvergenceTaskDuration`` (gauges, durations): the last run's
  duration; a sampler reads them over time. ``ConvergenceLRPRuns``/``ConvergenceTaskRuns``,
  ``ConvergenceTasksKicked``/``ConvergenceTasksPruned``: counters.
- LRP, Task and cell counts (gauges), refreshed by each convergence run as Diego does.
- ``TasksStarted``/``TasksSucceeded``/``TasksFailed``: cumulative counters.
- ``Domain.<name>`` = 1 while the domain is fresh (published ``Domain_cf_apps``).
- ``LockHeld`` (gauge): 1 while this BBS holds its ``bbs`` lock in Locket, else 0 (Diego's alert:
  any value other than 1); ``BBSMasterElected`` (gauge): 1 once this BBS has been elected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pytest_diego.cluster.bbs.core import Counters
from pytest_diego.cluster.metrics_agent import Publisher, registry_points, render

PUBLISHER = Publisher("bbs", "bbs-0")

COUNT_GAUGES = (
    "LRPsDesired", "LRPsUnclaimed", "LRPsClaimed", "LRPsRunning", "LRPsMissing", "LRPsExtra",
    "CrashedActualLRPs", "CrashingDesiredLRPs", "SuspectRunningActualLRPs", "SuspectClaimedActualLRPs",
    "TasksPending", "TasksRunning", "TasksCompleted", "TasksResolving", "PresentCells", "SuspectCells",
)


class RequestStats(Collector):
    """Per-route request counts and windowed maximum latencies."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._current: dict[str, float] = {}
        self._previous: dict[str, float] = {}
        self._window_start = time.monotonic()

    def observe(self, route: str, seconds: float) -> None:
        with self._lock:
            self._roll()
            self._counts[route] = self._counts.get(route, 0) + 1
            if seconds > self._current.get(route, 0.0):
                self._current[route] = seconds

    def _roll(self) -> None:
        now = time.monotonic()
        if now - self._window_start >= self._window:
            self._previous = self._current if now - self._window_start < 2 * self._window else {}
            self._current = {}
            self._window_start = now

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self._roll()
            counts = dict(self._counts)
            latencies = {r: max(self._current.get(r, 0.0), self._previous.get(r, 0.0))
                         for r in set(self._current) | set(self._previous)}
        count = CounterMetricFamily("RequestCount", "BBS requests served (total, and per route)")
        count.add_sample("RequestCount_total", {}, float(sum(counts.values())))
        for route, n in sorted(counts.items()):
            count.add_sample("RequestCount_total", {"route": route}, float(n))
        latency = GaugeMetricFamily(
            "RequestLatency", "max BBS request latency in seconds over the reporting window"
        )
        latency.add_sample("RequestLatency", {}, max(latencies.values(), default=0.0))
        for route, seconds in sorted(latencies.items()):
            latency.add_sample("RequestLatency", {"route": route}, seconds)
        yield count
        yield latency


class TaskCounters(Collector):
    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        for name, attr in (("TasksStarted", "tasks_started"), ("TasksSucceeded", "tasks_succeeded"),
                           ("TasksFailed", "tasks_failed")):
            family = CounterMetricFamily(name, f"cumulative {attr.replace('_', ' ')}")
            family.add_metric([], float(getattr(self._counters, attr)))
            yield family


class Metrics:
    """Every BBS metric, in one registry served on the health listener's ``GET /metrics``."""

    def __init__(self, counters: Counters, report_window: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestStats(report_window)
        self.registry.register(self.requests)
        self.registry.register(TaskCounters(counters))
        self.lrp_duration = Gauge("ConvergenceLRPDuration", "last LRP convergence run, seconds",
                                  registry=self.registry)
        self.task_duration = Gauge("ConvergenceTaskDuration", "last Task convergence run, seconds",
                                   registry=self.registry)
        self.lrp_runs = Counter("ConvergenceLRPRuns", "LRP convergence runs", registry=self.registry)
        self.task_runs = Counter("ConvergenceTaskRuns", "Task convergence runs", registry=self.registry)
        self.tasks_kicked = Counter("ConvergenceTasksKicked", "tasks re-auctioned or re-called back",
                                    registry=self.registry)
        self.tasks_pruned = Counter("ConvergenceTasksPruned", "tasks failed or deleted by convergence",
                                    registry=self.registry)
        self.counts = {name: Gauge(name, f"{name} at the last convergence", registry=self.registry)
                       for name in COUNT_GAUGES}
        self.domain = Gauge("Domain", "1 while the domain is fresh", ["domain"], registry=self.registry)
        self.lock_held = Gauge("LockHeld", "1 while this BBS holds the bbs lock", registry=self.registry)
        self.master_elected = Gauge("BBSMasterElected", "1 once this BBS was elected (took the bbs lock)",
                                    registry=self.registry)

    def set_counts(self, values: dict[str, int]) -> None:
        for name, value in values.items():
            self.counts[name].set(value)

    def set_domains(self, fresh: set[str], known: set[str]) -> None:
        for name in known:
            self.domain.labels(domain=name).set(1 if name in fresh else 0)

    def render(self) -> bytes:
        return render(PUBLISHER, registry_points(self.registry))
