"""The auctioneer's metrics under Diego's names, in a registry of its own, published in the metrics
agent's format (``cluster/metrics_agent.py``: ``source_id="auctioneer"``, durations in nanos).

``RequestLatency`` is, as in Diego, the *maximum* request latency since it was last read, so a
scrape every interval sees the worst request of that interval.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pytest_diego.cluster.auctioneer.runner import AuctionObserver
from pytest_diego.cluster.auctioneer.scoring import Results
from pytest_diego.cluster.metrics_agent import Publisher, registry_points, render

PUBLISHER = Publisher("auctioneer", "auctioneer-0")


class _MaxLatency(Collector):
    """Max latency since the last collect, then reset (Diego's request_stat_metron_notifier)."""

    def __init__(self) -> None:
        self._max = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._max = max(self._max, seconds)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            value, self._max = self._max, 0.0
        yield GaugeMetricFamily("RequestLatency", "max request latency since last read, seconds", value)


class AuctioneerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fetch_states_duration = Gauge("AuctioneerFetchStatesDuration",
                                           "time of the last auction's cell state fetch, seconds",
                                           registry=r)
        self.lrp_started = Counter("AuctioneerLRPAuctionsStarted", "LRP instances placed", registry=r)
        self.lrp_failed = Counter("AuctioneerLRPAuctionsFailed", "LRP instances not placed", registry=r)
        self.task_started = Counter("AuctioneerTaskAuctionsStarted", "tasks placed", registry=r)
        self.task_failed = Counter("AuctioneerTaskAuctionsFailed", "tasks not placed", registry=r)
        self.failed_cell_states = Counter("AuctioneerFailedCellStateRequests",
                                          "cell /state requests that failed", registry=r)
        self.request_count = Counter("RequestCount", "auctioneer API requests", registry=r)
        self.request_latency = _MaxLatency()
        r.register(self.request_latency)

    def observer(self) -> AuctionObserver:
        return AuctionObserver(fetch_states=self.fetch_states_duration.set,
                               failed_cell_state_request=self.failed_cell_states.inc,
                               auction_completed=self._auction_completed)

    def _auction_completed(self, results: Results) -> None:
        self.lrp_started.inc(results.placed_lrps)
        self.lrp_failed.inc(len(results.failed_lrps))
        self.task_started.inc(results.placed_tasks)
        self.task_failed.inc(len(results.failed_tasks))

    def request_served(self, seconds: float) -> None:
        self.request_count.inc()
        self.request_latency.observe(seconds)

    def exposition(self) -> bytes:
        return render(PUBLISHER, registry_points(self.registry))
