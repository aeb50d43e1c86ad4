"""Where a real Diego's routes and metrics are read from, as the operator configured them.

- **Routes**: gorouter's status listener (``--diego-router-status-url``, credentials in the URL
  or ``DIEGO_ROUTER_STATUS_USER``/``DIEGO_ROUTER_STATUS_PASSWORD``), read by ``RouteTable``.
- **Metrics**: each VM's metrics agent or any Prometheus text endpoint
  (``--diego-metrics-url NAME=URL``, repeatable, with ``--diego-metrics-ca``/``-cert``/``-key``
  for the agent's mutual TLS), and/or a Prometheus server's query API
  (``--diego-prometheus-url``, ``--diego-prometheus-matchers``).

Every setting is checked when the run starts (a bad URL or TLS file is a usage error naming the
option); each scenario gets fresh source objects, which the sampler closes. Credentials never
appear in results: ``describe`` shows the URLs without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_diego.measure import MetricsEndpoint, PrometheusQuery, RouteTable
from pytest_diego.measure.endpoint import redact_url
from pytest_diego.measure.metric_samples import MetricsSource


@dataclass(frozen=True)
class MetricsTLS:
    """TLS for the metrics agents (mutual TLS with the metrics CA) and the Prometheus server."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    skip_verify: bool = False

    def options(self) -> dict[str, Any]:
        return {"ca_file": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file,
                "skip_verify": self.skip_verify}


@dataclass(frozen=True)
class Sources:
    """A real Diego's sources of routes and metrics; any of them may be absent."""

    router_status_url: str | None = None
    metrics_urls: dict[str, str] = field(default_factory=dict)
    prometheus_url: str | None = None
    prometheus_matchers: str = ""
    tls: MetricsTLS = field(default_factory=MetricsTLS)

    def route_table(self, timeout: float = 5.0) -> RouteTable | None:
        if self.router_status_url is None:
            return None
        return RouteTable(self.router_status_url, timeout=timeout)

    def metrics(self, timeout: float = 5.0) -> list[MetricsSource]:
        sources: list[MetricsSource] = [MetricsEndpoint(url, timeout=timeout, **self.tls.options())
                                        for url in self.metrics_urls.values()]
        if self.prometheus_url is not None:
            sources.append(PrometheusQuery(self.prometheus_url, matchers=self.prometheus_matchers,
                                           timeout=timeout, **self.tls.options()))
        return sources

    def check(self) -> None:
        """Build every source once: ``EndpointConfigError`` names what cannot work."""
        table = self.route_table()
        if table is not None:
            table.close()
        for source in self.metrics():
            source.close()

    def describe(self) -> dict[str, Any]:
        return {"router_status_url": redact_url(self.router_status_url) if self.router_status_url else None,
                "metrics_urls": {name: redact_url(url) for name, url in self.metrics_urls.items()},
                "prometheus_url": redact_url(self.prometheus_url) if self.prometheus_url else None}
