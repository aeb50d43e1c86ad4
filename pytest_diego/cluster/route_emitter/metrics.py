"""The route emitter's metrics under Diego's names (diego-behaviour.md §7.4), in a registry of its
own. RouteEmitterSyncDuration is in seconds; counters carry Prometheus' ``_total`` suffix."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


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
        return generate_latest(self.registry)
