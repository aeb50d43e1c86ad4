"""``MetricsSampler``: Diego's metrics, from the sources an operator has, as Gauges under Diego's names.

**Sources** (each gives ``MetricSample``s in SI units, see ``metric_samples``):

- ``MetricsEndpoint`` (``prometheus_text``): a Prometheus text endpoint, i.e. Loggregator's
  metrics agent on each VM (``https://<vm>:14726/metrics``, mutual TLS), a firehose exporter, or
  an embedded component's ``/metrics`` (the embedded cluster publishes the metrics agent's
  format, so both targets go through this one parser). A plain URL string stands for one with
  no TLS options (credentials may be in the URL).
- ``PrometheusQuery`` (``prometheus_api``): a Prometheus server's instant-query API.

**Names and units.** Diego's names are kept (``ConvergenceLRPDuration``); the metrics agent's
sanitized names and the firehose exporter's (``firehose_value_metric_bbs_convergence_lrp_duration``)
map back to them. ``unit="nanos"`` values are stored in seconds, ``unit="Metric"`` counts as
they are, ``MiB`` as MiB.

**What is recorded.**

- *Counts* (``LRPsRunning``, ``PresentCells``, ``RoutesTotal``, ``ContainerCount``...): one sample
  per read, summed over the instances publishing them (``ContainerCount`` over cells). Note a
  metrics agent keeps a series 10 minutes after its last update, so a dead cell's last value
  still counts until then.
- *Durations* (every gauge in seconds: the loop durations ``ConvergenceLRPDuration``,
  ``RepBulkSyncDuration``, ``RouteEmitterSyncDuration``, ``AuctioneerFetchStatesDuration``...):
  one sample per **distinct emission**, from every instance into the one Gauge (so its ``max``
  is the slowest loop of any cell, and its ``count`` is how many measurements a verdict rests
  on). A read only shows each gauge's *last* value, re-published between emissions (the BBS
  every 15 s for a value that changes every 30 s), so reads are not measurements. The rule,
  per series (metric, ``source_id``/``origin``, ``instance_id``): a value is a new emission
  when it is > 0 (Diego reports 0 before a loop first ran) and it is the series' first value
  seen, or it differs from the previous value, or it carries its own timestamp and that
  changed. Durations are nanosecond counts, so two runs with the very same value do not
  happen in practice; the run counters are not used to decide, because a read can see a
  counter and its duration from different runs. They are used to say how many runs there were:
  ``runs[name]`` is the increase of ``ConvergenceLRPRuns``/``ConvergenceTaskRuns`` over the
  sampling (resets handled like Prometheus' ``increase``), to set beside ``emissions[name]``.
  The first value seen may come from a run before sampling began.
- ``PER_INSTANCE_METRICS`` are also kept per instance as ``<name>.<instance_id>``
  (``ContainerCount.cell-3``, ``RepBulkSyncDuration.cell-3``): the cell id for reps.

Only ``wanted`` names are recorded (default ``DEFAULT_METRICS``). The components' own
``RequestLatency``/``RequestCount`` are not among them: in ``Measurements`` those names are the
client's request Trends.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_diego.measure import names
from pytest_diego.measure.http import EndpointError
from pytest_diego.measure.metric_samples import (
    DEFAULT_NAMESPACE,
    MetricNames,
    MetricSample,
    MetricsSource,
)
from pytest_diego.measure.prometheus_text import MetricsEndpoint

if TYPE_CHECKING:
    from pytest_diego.measure.measurements import Measurements

DEFAULT_METRICS = (*names.LOOP_DURATIONS, *names.CLUSTER_GAUGES, "ContainerCount")
PER_INSTANCE_METRICS = ("ContainerCount", "RepBulkSyncDuration")
RUN_COUNTERS = {"ConvergenceLRPDuration": "ConvergenceLRPRuns",
                "ConvergenceTaskDuration": "ConvergenceTaskRuns"}

SeriesKey = tuple[str, str, str]  # Diego name, origin, instance


@dataclass
class _Last:
    value: float
    timestamp: float | None


class Emissions:
    """Tells a duration's new emissions from the same value read again (rule in the module doc)."""

    def __init__(self) -> None:
        self._last: dict[SeriesKey, _Last] = {}

    def is_new(self, sample: MetricSample) -> bool:
        key = (sample.name, sample.origin, sample.instance)
        before = self._last.get(key)
        self._last[key] = _Last(sample.value, sample.timestamp)
        if not sample.value > 0:
            return False
        if before is None or sample.value != before.value:
            return True
        return sample.timestamp is not None and before.timestamp is not None \
            and sample.timestamp != before.timestamp


class Increase:
    """A running total's increase over the reads, per series; a drop is a reset (Prometheus' rule)."""

    def __init__(self) -> None:
        self._last: dict[SeriesKey, float] = {}
        self.total: dict[str, float] = {}

    def add(self, sample: MetricSample, as_name: str) -> None:
        key = (sample.name, sample.origin, sample.instance)
        before = self._last.get(key)
        self._last[key] = sample.value
        if before is not None:
            grown = sample.value - before if sample.value >= before else sample.value
            self.total[as_name] = self.total.get(as_name, 0.0) + grown
        else:
            self.total.setdefault(as_name, 0.0)


class MetricsSampler:
    """Reads ``sources`` for the ``wanted`` Diego metrics into ``measurements`` Gauges.

    ``sources``: ``MetricsEndpoint``/``PrometheusQuery`` objects, or URL strings (each a
    ``MetricsEndpoint`` with ``timeout``). ``namespace`` is the firehose exporter's.
    """

    def __init__(self, sources: Iterable[str | MetricsSource], measurements: Measurements,
                 wanted: Iterable[str] = DEFAULT_METRICS, timeout: float = 5.0,
                 per_instance: Iterable[str] = PER_INSTANCE_METRICS,
                 namespace: str = DEFAULT_NAMESPACE) -> None:
        self.sources: list[MetricsSource] = [
            MetricsEndpoint(s, timeout=timeout) if isinstance(s, str) else s for s in sources]
        self.measurements = measurements
        self.wanted = frozenset(wanted)
        self.per_instance = frozenset(per_instance)
        self._run_counter_of = {RUN_COUNTERS[n]: n for n in self.wanted if n in RUN_COUNTERS}
        self.names = MetricNames(self.wanted | set(self._run_counter_of), namespace)
        self.failures: dict[str, int] = {}  # source URL -> failed reads
        self.last_error: dict[str, str] = {}  # source URL -> its latest error
        # duration name -> distinct emissions recorded (loop durations listed from the start)
        self.emissions: dict[str, int] = {n: 0 for n in names.LOOP_DURATIONS if n in self.wanted}
        self._emissions = Emissions()
        self._runs = Increase()

    @property
    def runs(self) -> dict[str, int]:
        """Per loop duration with a run counter: the runs there were while sampling."""
        return {name: int(n) for name, n in self._runs.total.items()}

    def sample(self) -> list[EndpointError]:
        """Read every source once and record (see the module doc).

        Returns the sources' errors (one down endpoint must not stop the others' samples);
        ``failures`` and ``last_error`` keep them for the report when run by ``Periodic``.
        """
        now = time.time()
        counts: dict[str, tuple[float, str]] = {}
        errors: list[EndpointError] = []
        for source in self.sources:
            try:
                scrape = source.scrape(self.names)
            except EndpointError as e:
                errors.append(e)
                self.failures[source.url] = self.failures.get(source.url, 0) + 1
                self.last_error[source.url] = str(e)
                continue
            for s in scrape.samples:
                if s.name in self._run_counter_of:
                    self._runs.add(s, self._run_counter_of[s.name])
                if s.name not in self.wanted:
                    continue
                if s.kind == "gauge" and s.unit == "s":
                    self._record_emission(s, s.timestamp or scrape.observed_at)
                    continue
                total, _ = counts.get(s.name, (0.0, s.unit))
                counts[s.name] = (total + s.value, s.unit)
                if s.name in self.per_instance and s.instance:
                    self.measurements.gauge(f"{s.name}.{s.instance}", s.unit).add(now, s.value)
        for name, (value, unit) in counts.items():
            self.measurements.gauge(name, unit).add(now, value)
        return errors

    def _record_emission(self, s: MetricSample, t: float) -> None:
        if not self._emissions.is_new(s):
            return
        self.measurements.gauge(s.name, "s").add(t, s.value)
        if s.name in self.per_instance and s.instance:
            self.measurements.gauge(f"{s.name}.{s.instance}", "s").add(t, s.value)
        self.emissions[s.name] = self.emissions.get(s.name, 0) + 1

    def close(self) -> None:
        for source in self.sources:
            source.close()
