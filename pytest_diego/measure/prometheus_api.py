"""``PrometheusQuery``: Diego's metrics from a Prometheus server's HTTP query API.

Many operators run a Prometheus that scrapes the metrics agents (Diego's names) or the firehose
exporter (``firehose_value_metric_bbs_convergence_lrp_duration``...). One instant query per
read (``GET <url>/api/v1/query?query=<selector>``) asks for every published form of the wanted
names at once (``MetricNames.promql_selector``), e.g.::

    {__name__=~"ConvergenceLRPDuration|...|firehose_(value_metric|counter_event)_(bbs|...)_(convergence_lrp_duration|...)(_total)?"}

``matchers`` adds label matchers to narrow it to one deployment (``'deployment="cf"'``). The
answer is Prometheus' JSON (``{"status": "success", "data": {"resultType": "vector", "result":
[{"metric": {...}, "value": [<time>, "<value>"]}]}}``); every value is converted like the text
endpoint's (``unit`` label, exporter names mapped back to Diego's). An instant vector carries
the *evaluation* time, not the sample's own, so ``MetricSample.timestamp`` is None and the
evaluation time is the scrape's ``observed_at``. ``NaN`` values (stale markers) are skipped.

Options: ``url`` is the server's base URL (``https://prometheus.example.com:9090``, a path
prefix allowed); ``ca_file``, ``cert_file``/``key_file``, ``skip_verify``; basic auth in the URL
or ``user``/``password``, or ``bearer_token``; or ``DIEGO_PROMETHEUS_USER``/
``DIEGO_PROMETHEUS_PASSWORD``/``DIEGO_PROMETHEUS_BEARER_TOKEN``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_diego.measure.endpoint import Endpoint, EnvNames
from pytest_diego.measure.http import EndpointError
from pytest_diego.measure.metric_samples import MetricNames, MetricSample, Scrape, to_sample

if TYPE_CHECKING:
    import os

PROMETHEUS_ENV = EnvNames(user="DIEGO_PROMETHEUS_USER", password="DIEGO_PROMETHEUS_PASSWORD",
                          bearer_token="DIEGO_PROMETHEUS_BEARER_TOKEN")
AUTH_HINT = ("check the Prometheus credentials: basic auth in the URL (https://USER:PASSWORD@host:9090) or "
             "DIEGO_PROMETHEUS_USER/DIEGO_PROMETHEUS_PASSWORD, or a token in "
             "DIEGO_PROMETHEUS_BEARER_TOKEN")
QUERY_PATH = "/api/v1/query"
SHAPE = '{"status": "success", "data": {"resultType": "vector", "result": [...]}}'


def parse_answer(body: bytes, wanted: MetricNames, url: str) -> Scrape:
    """An instant-vector answer as samples (see the module doc); ``EndpointError`` if it is not one."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EndpointError(f"{url} did not answer JSON (it began {body[:80]!r}); is the URL the "
                            "Prometheus server's base URL, e.g. https://prometheus:9090?") from None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise EndpointError(f"{url} did not answer Prometheus' query API format {SHAPE}: "
                            f"{body[:120]!r}")
    if answer["status"] == "error":
        raise EndpointError(f"{url}: Prometheus refused the query ({answer.get('errorType', '?')}: "
                            f"{answer.get('error', '')})")
    data = answer.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(
            data.get("result"), list):
        raise EndpointError(f"{url}: expected an instant vector {SHAPE}, got {str(data)[:120]}")
    samples: list[MetricSample] = []
    evaluated_at = None
    for series in data["result"]:
        try:
            labels: dict[str, Any] = dict(series["metric"])
            when, text = series["value"]
            value, evaluated_at = float(text), float(when)
        except (KeyError, TypeError, ValueError) as e:
            raise EndpointError(f"{url}: a series of the answer is not "
                                f'{{"metric": {{...}}, "value": [<time>, "<value>"]}}: {str(series)[:120]}'
                                ) from e
        found = wanted.diego_name(str(labels.pop("__name__", "")))
        if found is None or math.isnan(value):
            continue
        diego, implied = found
        samples.append(to_sample(diego, implied or "gauge", value,
                                 {str(k): str(v) for k, v in labels.items()}))
    return Scrape(evaluated_at if evaluated_at is not None else time.time(), samples)


class PrometheusQuery:
    """A Prometheus server's query API (see the module doc for the options)."""

    def __init__(self, url: str, *, matchers: str = "", ca_file: str | os.PathLike[str] | None = None,
                 cert_file: str | os.PathLike[str] | None = None,
                 key_file: str | os.PathLike[str] | None = None, skip_verify: bool = False,
                 user: str | None = None, password: str | None = None, bearer_token: str | None = None,
                 timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        self.endpoint = Endpoint(url, what="Prometheus server", user=user, password=password,
                                 bearer_token=bearer_token, ca_file=ca_file, cert_file=cert_file,
                                 key_file=key_file, skip_verify=skip_verify, timeout=timeout,
                                 env=PROMETHEUS_ENV, environ=environ, auth_hint=AUTH_HINT)
        self.matchers = matchers

    @property
    def url(self) -> str:
        return self.endpoint.url

    def __repr__(self) -> str:
        return f"PrometheusQuery({self.endpoint!r})"

    def scrape(self, wanted: MetricNames) -> Scrape:
        """The wanted metrics as Prometheus has them now; ``EndpointError`` naming the URL."""
        query = wanted.promql_selector(self.matchers)
        url = self.url + QUERY_PATH
        status, body, _ = self.endpoint.fetch(QUERY_PATH, params={"query": query})
        if status == 404:
            raise EndpointError(f"{url} answered HTTP 404; give the Prometheus server's base URL "
                                "(without /api/v1/...), e.g. https://prometheus:9090")
        if status not in (200, 400, 422, 503):  # Prometheus answers its errors as JSON with these
            raise EndpointError(f"{url} answered HTTP {status}; is it a Prometheus server?")
        return parse_answer(body, wanted, url)

    def close(self) -> None:
        self.endpoint.close()
