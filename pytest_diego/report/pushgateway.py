"""A run's SLO verdicts and metric summaries, pushed to a Prometheus Pushgateway.

Diego's operators watch Prometheus; a Pushgateway is how a batch job's results get there. At the
end of a run (``--diego-pushgateway URL``) the run's owner pushes what results.json holds, once,
as one group: ``job`` (``--diego-pushgateway-job``, default ``pytest_diego``) and ``run`` (the
run's start, UTC, e.g. ``2024-05-01T12:00:00.123Z``), so runs never overwrite each other. The
push replaces that group (HTTP PUT). Series, ``scenario`` being the test's node id:

``diego_slo_outcome{scenario, metric, threshold, source, outcome}``
    one series per SLO and outcome (``passed``, ``failed``, ``not measured``, ``skipped``):
    1 for the verdict's outcome, 0 for the others (Prometheus' enum pattern), so
    ``diego_slo_outcome{outcome="failed"} == 1`` lists every failed SLO. ``threshold`` is the
    expression as written (``p(99) < 1s``), ``source`` is ``slo`` or ``baseline``.
``diego_slo_observed{scenario, metric, threshold, source}``
    the observed value, where there is a number: seconds for times, a fraction for ``rate``,
    the number for ``count`` and count gauges.
``diego_metric{scenario, metric, stat, unit}``
    each metric's summary (``measure.summary``): ``stat`` is ``count``, ``ok``, ``rate``, ``min``,
    ``med``, ``avg``, ``p(90)``, ``p(95)``, ``p(99)``, ``p(99.9)``, ``max`` or (gauges)
    ``last``; ``unit`` is ``seconds`` (latencies, durations), ``ratio`` (``rate``) or empty
    (counts). Statistics of an empty metric are left out.
``diego_metric_failures{scenario, metric, type}``
    failed requests or probes by failure type (``ResourceExists``, ``Timeout``, ...).
``diego_scenario_outcome{scenario, outcome}``
    1 for the test's outcome (``passed``, ``failed``, ``skipped``, ``error``), 0 for the others.
``diego_run_interrupted``
    1 if the run was interrupted (its results are partial).

Basic auth comes from the URL (``https://USER:PASSWORD@pushgateway:9091``) or from
``DIEGO_PUSHGATEWAY_USER``/``DIEGO_PUSHGATEWAY_PASSWORD``; it is never printed: ``url`` and
every message carry the URL without it. HTTPS servers are verified with the system's CAs.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import basic_auth_handler, push_to_gateway

from pytest_diego.measure.endpoint import EnvNames, redact_url, split_credentials
from pytest_diego.report.load import VERDICT_OUTCOMES, verdict_outcome

DEFAULT_JOB = "pytest_diego"
ENV = EnvNames(user="DIEGO_PUSHGATEWAY_USER", password="DIEGO_PUSHGATEWAY_PASSWORD")
TEST_OUTCOMES = ("passed", "failed", "skipped", "error")
STATS = ("count", "ok", "rate", "min", "med", "avg", "p(90)", "p(95)", "p(99)", "p(99.9)", "max", "last")
COUNTS = ("count", "ok")


class PushgatewayConfigError(ValueError):
    """A Pushgateway setting that cannot work; the message names it and the fix."""


class PushError(RuntimeError):
    """A push that did not go through; the message names the URL (never its credentials)."""


@dataclass(frozen=True)
class Pushgateway:
    """Where to push: the URL without credentials, the job, and basic auth if any."""

    url: str
    job: str = DEFAULT_JOB
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, job: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Pushgateway:
        """Credentials from the URL, else from ``DIEGO_PUSHGATEWAY_USER``/``_PASSWORD``."""
        try:
            clean, user, password = split_credentials(url, "--diego-pushgateway")
        except ValueError:
            raise PushgatewayConfigError(f"--diego-pushgateway {redact_url(url)!r}: not a valid http(s) URL "
                                         "with a host; write it like http://pushgateway:9091") from None
        environ = environ or {}
        if user is None and password is None:
            user = environ.get(ENV.user or "") or None
            password = environ.get(ENV.password or "") or None
        if (user is None) != (password is None):
            raise PushgatewayConfigError(
                f"--diego-pushgateway {clean}: basic auth needs a user and a password; give both in the "
                f"URL (http://USER:PASSWORD@host:9091) or in {ENV.describe()}")
        job = DEFAULT_JOB if job is None else str(job).strip()
        if not job:
            raise PushgatewayConfigError("--diego-pushgateway-job: give a job name, e.g. pytest_diego")
        return cls(clean, job, user, password)

    def push(self, document: Mapping[str, Any]) -> str:
        """Push a results document; the run's grouping value, or ``PushError`` saying why not."""
        run = run_id(document)
        where = f"Pushgateway {self.url} (job {self.job}, run {run})"
        try:
            push_to_gateway(self.url, job=self.job, registry=ResultsCollector(document),
                            grouping_key={"run": run}, timeout=self.timeout, handler=self._handler)
        except urllib.error.HTTPError as e:
            body = e.read(300).decode("utf-8", "replace").strip()
            hint = "; check the user and password" if e.code in (401, 403) else ""
            raise PushError(f"{where} answered HTTP {e.code} {e.reason}"
                            f"{': ' + body if body else ''}{hint}") from None
        except urllib.error.URLError as e:
            raise PushError(f"cannot reach {where}: {e.reason}") from None
        except (OSError, ValueError) as e:  # timeouts, resets, a malformed answer
            raise PushError(f"push to {where} failed: {type(e).__name__}: {e}") from None
        return run

    def _handler(self, url: str, method: str, timeout: float | None, headers: list[tuple[str, str]],
                 data: bytes) -> Any:
        return basic_auth_handler(url, method, timeout, headers, data, self.user, self.password)


def run_id(document: Mapping[str, Any]) -> str:
    """The run's grouping value: its start, UTC, to the millisecond."""
    started = float(document.get("started_at") or 0.0)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)) + f".{int(started * 1000) % 1000:03d}Z"


class ResultsCollector:
    """The series of a results document, for ``prometheus_client`` to render and push."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def collect(self) -> Iterator[Metric]:
        outcome = GaugeMetricFamily("diego_slo_outcome", "pytest-diego SLO verdict: 1 for its outcome",
                                    labels=["scenario", "metric", "threshold", "source", "outcome"])
        observed = GaugeMetricFamily("diego_slo_observed", "pytest-diego SLO: the observed value "
                                     "(seconds for times)",
                                     labels=["scenario", "metric", "threshold", "source"])
        summary = GaugeMetricFamily("diego_metric", "pytest-diego metric summary of a scenario "
                                    "(seconds for times)", labels=["scenario", "metric", "stat", "unit"])
        failures = GaugeMetricFamily("diego_metric_failures", "pytest-diego failed requests or probes "
                                     "by type", labels=["scenario", "metric", "type"])
        scenario = GaugeMetricFamily("diego_scenario_outcome", "pytest-diego test outcome: 1 for its "
                                     "outcome", labels=["scenario", "outcome"])
        for nodeid, test in (self.document.get("tests") or {}).items():
            for state in TEST_OUTCOMES:
                scenario.add_metric([nodeid, state], float(test.get("outcome") == state))
            seen: set[tuple[str, ...]] = set()
            for verdict in test.get("verdicts") or []:
                key = [nodeid, str(verdict["metric"]), str(verdict["expression"]),
                       str(verdict.get("source") or "slo")]
                if tuple(key) in seen:  # the same threshold twice: a Pushgateway refuses repeated series
                    continue
                seen.add(tuple(key))
                for state in VERDICT_OUTCOMES:
                    outcome.add_metric([*key, state], float(verdict_outcome(verdict) == state))
                if isinstance(verdict.get("value"), (int, float)):
                    observed.add_metric(key, float(verdict["value"]))
            for name, stats in (test.get("metrics") or {}).items():
                for stat in STATS:
                    if isinstance(stats.get(stat), (int, float)):
                        summary.add_metric([nodeid, name, stat, _unit(stats, stat)], float(stats[stat]))
                for kind, count in (stats.get("failures") or {}).items():
                    failures.add_metric([nodeid, name, str(kind)], float(count))
        interrupted = GaugeMetricFamily("diego_run_interrupted", "pytest-diego: 1 if the run was "
                                        "interrupted (its results are partial)",
                                        value=float(bool(self.document.get("interrupted"))))
        yield from (outcome, observed, summary, failures, scenario, interrupted)


def _unit(stats: Mapping[str, Any], stat: str) -> str:
    """``seconds``, ``ratio`` or empty (a count) for one statistic of a summary."""
    if stat in COUNTS:
        return ""
    if stat == "rate":
        return "ratio"
    if stats.get("kind") == "gauge" and stats.get("unit") != "s":
        return ""
    return "seconds"
