"""The route emitter's metrics under Diego's names (docs/diego-facts.md §7.4), in a registry of its
own, published in the metrics agent's format (``cluster/metrics_agent.py``:
``source_id="route_emitter"``, RouteEmitterSyncDuration in nanos, counters as running totals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from pytest_diego.cluster.metrics_agent import Publisher, registry_points, render

PUBLISHER = Publisher("route_emitter", "route_emitter-0")


class RouteEmitterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.routes_total = Gauge("RoutesTotal", "route-endpoint pairs in the routing table", registry=r)
        self.routes_registered = Counter("RoutesRegistered", "registrations sent on changes", registry=r)
        self.routes_unregistered = Counter("RoutesUnregistered", "unregistrations sent on changes",
                                           registry=r)
        self.routes_synced = Counter("RoutesSynced", "registrations sent by the periodic emission",
                                     registry=r)
        self.sync_duration = Gauge("RouteEmitterSyncDuration", "duration of the last full sync, seconds",
                                   registry=r)
        self.messages_emitted = Counter("HTTPRouteNATSMessagesEmitted",
                                        "router messages sent (register and unregister)", registry=r)

    def render(self) -> bytes:
        return render(PUBLISHER, registry_points(self.registry))
