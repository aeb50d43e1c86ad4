"""The router's metrics, named after gorouter's (total_routes, requests, responses by status class,
bad_gateways), in a registry of its own so tests can build many routers in one process, published
in the metrics agent's format (``cluster/metrics_agent.py``, ``source_id="gorouter"``; labelled
series get gorouter's dotted names, ``responses.2xx``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from pytest_diego.cluster.metrics_agent import Publisher, registry_points, render

PUBLISHER = Publisher("gorouter", "router-0")


class RouterMetrics:
    def __init__(self, route_count: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        total_routes = Gauge("total_routes", "Route-endpoint pairs in the table", registry=self.registry)
        total_routes.set_function(route_count)
        self.requests = Counter("requests", "Requests received on the proxy port", registry=self.registry)
        self.responses = Counter(
            "responses", "Responses sent, by status class", ["status"], registry=self.registry
        )
        self.bad_gateways = Counter(
            "bad_gateways", "Requests whose endpoints all failed (502)", registry=self.registry
        )
        self.unknown_routes = Counter(
            "unknown_routes", "Requests for a host with no endpoints (404)", registry=self.registry
        )
        self.registrations = Counter(
            "registry_messages", "router.register/unregister messages received", ["action"],
            registry=self.registry,
        )
        self.pruned = Counter(
            "pruned_endpoints", "Endpoints pruned for not being re-registered", registry=self.registry
        )

    def observe_response(self, status: int) -> None:
        self.responses.labels(status=f"{status // 100}xx").inc()

    def render(self) -> bytes:
        return render(PUBLISHER, registry_points(self.registry))
