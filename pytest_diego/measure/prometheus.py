"""Loop durations and cluster gauges sampled from Prometheus-format ``/metrics`` endpoints.

Works on the embedded cluster's endpoints or any a real deployment exposes. Each scrape keeps
the metrics it is asked for (by default Diego's loop durations and cluster gauges, see
``names``) as Gauge time series, under the name the endpoint serves them with.

**Units.** Durations are stored in seconds. The embedded cluster serves them in seconds, the
Prometheus convention, so by default values are kept as served. Diego's own emitters report
durations in nanoseconds: for an endpoint that relays those unchanged, pass
``duration_scale=1e9`` and every ``...Duration`` metric is divided by it (``..._seconds``
metrics never are).

**Combining series.** Several series of one name (labels, or one per cell/endpoint) are summed
for counts (``LRPsRunning`` over cells) and maxed for durations (the slowest
``RepBulkSyncDuration`` is the one that matters). Metrics in ``per_endpoint`` are also kept per
labelled endpoint as ``<name>.<label>`` (``ContainerCount.cell-3``), so the report can show
instances per cell and a cell that died stops getting samples.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import requests
from prometheus_client.parser import text_string_to_metric_families

from pytest_diego.measure import names
from pytest_diego.measure.http import EndpointError, get

if TYPE_CHECKING:
    from pytest_diego.measure.measurements import Measurements

DEFAULT_METRICS = (*names.LOOP_DURATIONS, *names.CLUSTER_GAUGES, "ContainerCount")
PER_ENDPOINT_METRICS = ("ContainerCount",)


def combine(name: str, a: float | None, b: float) -> float:
    """Two series of one metric as one: max for durations, sum for counts."""
    if a is None:
        return b
    return max(a, b) if names.is_duration(name) else a + b


def parse(text: str, source: str = "metrics") -> dict[str, float]:
    """Sample values by name (series combined, see ``combine``) from Prometheus text."""
    values: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                values[sample.name] = combine(sample.name, values.get(sample.name), float(sample.value))
    except (ValueError, TypeError, IndexError, KeyError) as e:
        first = text.strip().splitlines()[0][:80] if text.strip() else "(empty)"
        raise EndpointError(f"{source} is not Prometheus text format ({e}); first line: "
                            f"{first!r}. Is this the component's /metrics URL?") from e
    return values


class MetricsSampler:
    """Scrapes ``endpoints`` (URLs) for ``wanted`` metrics into ``measurements`` Gauges."""

    def __init__(self, endpoints: Iterable[str], measurements: Measurements,
                 wanted: Iterable[str] = DEFAULT_METRICS, timeout: float = 5.0,
                 duration_scale: float = 1.0, labels: Mapping[str, str] | None = None,
                 per_endpoint: Iterable[str] = PER_ENDPOINT_METRICS) -> None:
        self.endpoints = list(endpoints)
        self.labels = dict(labels or {})  # endpoint URL -> label, e.g. its cell_id
        self.per_endpoint = set(per_endpoint)
        self.measurements = measurements
        self.wanted = set(wanted)
        self.timeout = timeout
        self.duration_scale = duration_scale
        self.failures: dict[str, int] = {}  # endpoint URL -> failed scrapes
        self.last_error: dict[str, str] = {}  # endpoint URL -> its latest error
        self._session = requests.Session()

    def scrape(self, url: str) -> dict[str, float]:
        """One endpoint's wanted metrics now; ``EndpointError`` names the URL and the fix."""
        response, body = get(self._session, url, self.timeout)
        if response.status_code != 200:
            raise EndpointError(f"{url} answered HTTP {response.status_code}; is it a /metrics URL?")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EndpointError(f"{url} did not answer with UTF-8 text; is it a /metrics URL?") from e
        found = parse(text, url)
        return {name: v for name, v in found.items() if name in self.wanted}

    def sample(self) -> list[EndpointError]:
        """Scrape every endpoint once; series across endpoints are combined (``combine``).

        Returns the endpoints' errors (one down endpoint must not stop the others' samples);
        ``failures`` and ``last_error`` keep them for the report when run by ``Periodic``.
        """
        now = time.time()
        totals: dict[str, float] = {}
        errors: list[EndpointError] = []
        for url in self.endpoints:
            label = self.labels.get(url)
            try:
                for name, value in self.scrape(url).items():
                    totals[name] = combine(name, totals.get(name), value)
                    if label is not None and name in self.per_endpoint:
                        self.measurements.gauge(f"{name}.{label}").add(now, value)
            except EndpointError as e:
                errors.append(e)
                self.failures[url] = self.failures.get(url, 0) + 1
                self.last_error[url] = str(e)
        for name, value in totals.items():
            if names.is_duration(name):
                scale = 1.0 if name.endswith("_seconds") else self.duration_scale
                self.measurements.gauge(name, unit="s").add(now, value / scale)
            else:
                self.measurements.gauge(name).add(now, value)
        return errors

    def close(self) -> None:
        self._session.close()
