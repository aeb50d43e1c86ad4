"""``MetricsEndpoint``: Diego's metrics from a Prometheus text endpoint.

That is, in a current cf-deployment, Loggregator's **metrics agent** on each VM
(``https://<vm-ip>:14726/metrics``, mutual TLS: a client certificate signed by the metrics CA),
a **firehose exporter**, or an embedded component's ``/metrics`` (which publish the metrics
agent's format). Options: ``ca_file``, ``cert_file``/``key_file`` (mutual TLS), ``skip_verify``,
and basic auth (in the URL or ``user``/``password``) or ``bearer_token``; credentials may also
come from ``DIEGO_METRICS_USER``/``DIEGO_METRICS_PASSWORD`` or ``DIEGO_METRICS_BEARER_TOKEN``.

``parse_exposition`` reads the text: counters (``# TYPE X counter``, a running total) keep their
name with or without Prometheus' ``_total`` suffix; histograms and summaries are skipped
(Diego publishes none); values become ``MetricSample`` in SI units (``metric_samples``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

from pytest_diego.measure.endpoint import Endpoint, EnvNames
from pytest_diego.measure.http import EndpointError
from pytest_diego.measure.metric_samples import MetricNames, MetricSample, Scrape, to_sample

if TYPE_CHECKING:
    import os

METRICS_ENV = EnvNames(user="DIEGO_METRICS_USER", password="DIEGO_METRICS_PASSWORD",
                       bearer_token="DIEGO_METRICS_BEARER_TOKEN")
AUTH_HINT = ("check the credentials: basic auth in the URL (https://USER:PASSWORD@host:port/metrics) "
             "or DIEGO_METRICS_USER/DIEGO_METRICS_PASSWORD, or a token in DIEGO_METRICS_BEARER_TOKEN")
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"


def parse_exposition(text: str, wanted: MetricNames, source: str = "metrics") -> list[MetricSample]:
    """The wanted samples of a Prometheus text exposition; ``EndpointError`` if it is not one."""
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            if family.type in ("histogram", "gaugehistogram", "summary"):
                continue
            for s in family.samples:
                if family.type == "counter":
                    if s.name not in (family.name, family.name + "_total"):
                        continue  # _created
                    published = family.name
                else:
                    published = s.name
                found = wanted.diego_name(published)
                if found is None:
                    continue
                diego, implied = found
                kind = implied or ("counter" if family.type == "counter" else "gauge")
                timestamp = None if s.timestamp is None else float(s.timestamp)
                samples.append(to_sample(diego, kind, float(s.value), s.labels, timestamp))
    except (ValueError, TypeError, IndexError, KeyError) as e:
        first = text.strip().splitlines()[0][:80] if text.strip() else "(empty)"
        raise EndpointError(f"{source} is not Prometheus text format ({e}); first line: {first!r}. "
                            "Is this a metrics URL (the metrics agent's https://<vm>:14726/metrics, "
                            "or a component's /metrics)?") from e
    return samples


def exposition_values(text: str, names: Iterable[str]) -> dict[str, float]:
    """``{Diego name: value}`` of one component's exposition (a name's series summed), in SI units:
    what a test or a tool reading one embedded ``/metrics`` wants."""
    values: dict[str, float] = {}
    for sample in parse_exposition(text, MetricNames(names)):
        values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


class MetricsEndpoint:
    """One Prometheus text endpoint (see the module doc for the options)."""

    def __init__(self, url: str, *, ca_file: str | os.PathLike[str] | None = None,
                 cert_file: str | os.PathLike[str] | None = None,
                 key_file: str | os.PathLike[str] | None = None, skip_verify: bool = False,
                 user: str | None = None, password: str | None = None, bearer_token: str | None = None,
                 timeout: float = 5.0, environ: Mapping[str, str] | None = None) -> None:
        self.endpoint = Endpoint(url, what="metrics endpoint", user=user, password=password,
                                 bearer_token=bearer_token, ca_file=ca_file, cert_file=cert_file,
                                 key_file=key_file, skip_verify=skip_verify, timeout=timeout,
                                 env=METRICS_ENV, environ=environ, auth_hint=AUTH_HINT)

    @property
    def url(self) -> str:
        return self.endpoint.url

    def __repr__(self) -> str:
        return f"MetricsEndpoint({self.endpoint!r})"

    def scrape(self, wanted: MetricNames) -> Scrape:
        """The wanted metrics now; ``EndpointError`` naming the URL and the fix."""
        observed_at = time.time()
        status, body, _ = self.endpoint.fetch(headers={"Accept": ACCEPT})
        if status != 200:
            raise EndpointError(f"{self.url} answered HTTP {status}; is it a metrics URL?")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EndpointError(f"{self.url} did not answer with UTF-8 text; is it a metrics URL?") from e
        return Scrape(observed_at, parse_exposition(text, wanted, self.url))

    def close(self) -> None:
        self.endpoint.close()
