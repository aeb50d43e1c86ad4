"""``Measurements``: everything one process measured, as plain, mergeable data.

Each xdist worker fills one, ships ``to_dict()`` (JSON-able) to the controller, which rebuilds
them with ``from_dict`` and merges (``Measurements.merged(dicts)``). Merging is associative and
commutative, so the verdict does not depend on worker order, and merged histograms give the
percentiles one process that saw every sample would give.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from pytest_diego.measure.metrics import Gauge, Rate, Trend
from pytest_diego.measure.registry import REGISTRY
from pytest_diego.measure.routes import AppProbe
from pytest_diego.measure.setcheck import SetCheck
from pytest_diego.measure.timeline import Timelines

Metric = Trend | Rate | Gauge
_KINDS: dict[str, type[Trend] | type[Rate] | type[Gauge]] = {"trend": Trend, "rate": Rate,
                                                            "gauge": Gauge}
SCHEMA = 1


class Measurements:
    """Named metrics, lifecycle timelines, set checks and route probe results, and the metrics
    this run could not measure (``unmeasured``: name -> why, e.g. the option that enables it)."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.timelines = Timelines()
        self.sets: dict[str, SetCheck] = {}
        self.probes: dict[str, AppProbe] = {}
        self.unmeasured: dict[str, str] = {}
        self._lock = threading.Lock()

    def not_measured(self, names: Iterable[str], reason: str) -> None:
        """Declare that ``names`` cannot be measured on this target, and why: their SLOs are
        reported as not measured instead of failing on "no data" (a recorded value still wins)."""
        with self._lock:
            for name in names:
                self.unmeasured.setdefault(name, reason)

    # -- getting metrics by kind (created on first use) -------------------------------------------
    def trend(self, name: str) -> Trend:
        return self._get(name, Trend)  # type: ignore[return-value]

    def rate(self, name: str) -> Rate:
        return self._get(name, Rate)  # type: ignore[return-value]

    def gauge(self, name: str, unit: str = "") -> Gauge:
        """The gauge ``name``; its unit is the definition's (``registry``) unless given here."""
        gauge = self._get(name, Gauge)
        assert isinstance(gauge, Gauge)
        if not gauge.unit:
            spec = REGISTRY.lookup(name)
            gauge.unit = unit or (spec.unit if spec is not None else "")
        return gauge

    def set_check(self, name: str) -> SetCheck:
        with self._lock:
            return self.sets.setdefault(name, SetCheck())

    def app_probe(self, hostname: str) -> AppProbe:
        with self._lock:
            return self.probes.setdefault(hostname, AppProbe())

    def _get(self, name: str, kind: type[Trend] | type[Rate] | type[Gauge]) -> Metric:
        metric = self.metrics.get(name)
        if metric is None:
            spec = REGISTRY.lookup(name)
            if spec is not None and spec.kind != kind.kind:
                raise TypeError(f"metric {name!r} is defined as a {spec.kind}, not a {kind.kind}")
            with self._lock:
                metric = self.metrics.setdefault(name, kind())
        if type(metric) is not kind:
            raise TypeError(f"metric {name!r} is a {metric.kind}, not a {kind.kind}")
        return metric

    def metric(self, name: str) -> Metric | None:
        """A recorded metric, or one derived on demand: a timeline stage (``LRPTimeToRunning``...)
        or a set check's outcome counts (``<set>.Lost``, ``<set>.Stable``...)."""
        if name in self.metrics:
            return self.metrics[name]
        if name in self.timelines.STAGES:
            return self.timelines.stage_trends()[name]
        return self._set_metrics().get(name)

    def names(self) -> list[str]:
        return sorted(set(self.metrics) | set(self.timelines.stage_trends()) | set(self._set_metrics()))

    def _set_metrics(self) -> dict[str, Gauge]:
        """Each set check with a final read, judged on everything merged so far: one Gauge sample
        per outcome (``DesiredTasks.Lost`` = acknowledged desires no shard found at the end)."""
        gauges: dict[str, Gauge] = {}
        for set_name, check in self.sets.items():
            if check.final_read is None:
                continue
            result = check.result()
            for outcome, elements in (("Stable", result.stable), ("Lost", result.lost),
                                      ("Recovered", result.recovered),
                                      ("NeverConfirmed", result.never_confirmed)):
                gauges[f"{set_name}.{outcome}"] = Gauge("", [(0.0, float(len(elements)))])
        return gauges

    # -- merging and plain data -----------------------------------------------------------------
    def merge(self, other: Measurements) -> Measurements:
        """Add ``other`` into this one (in place) and return it."""
        for name, metric in other.metrics.items():
            mine = self.metrics.get(name)
            if mine is None:
                self.metrics[name] = _KINDS[metric.kind].from_dict(metric.to_dict())
            else:
                mine.merge(metric)  # type: ignore[arg-type]
        self.timelines.merge(other.timelines)
        for name, check in other.sets.items():
            self.set_check(name).merge(check)
        for host, probe in other.probes.items():
            self.probes.setdefault(host, AppProbe()).merge(probe)
        for name, reason in other.unmeasured.items():
            self.unmeasured.setdefault(name, reason)
        return self

    @classmethod
    def merged(cls, shards: Iterable[Measurements | dict[str, Any]]) -> Measurements:
        """One Measurements from many workers' (or their ``to_dict()`` forms)."""
        total = cls()
        for shard in shards:
            total.merge(shard if isinstance(shard, Measurements) else cls.from_dict(shard))
        return total

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA,
                "metrics": {n: m.to_dict() for n, m in sorted(self.metrics.items())},
                "timelines": self.timelines.to_dict(),
                "sets": {n: s.to_dict() for n, s in sorted(self.sets.items())},
                "probes": {h: p.to_dict() for h, p in sorted(self.probes.items())},
                "unmeasured": dict(sorted(self.unmeasured.items()))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurements:
        """Rebuild shipped measurements; ``ValueError`` naming the part that is malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"measurements must be an object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise ValueError(f"measurements schema {data.get('schema')!r} is not {SCHEMA}: "
                             "workers and controller must run the same pytest-diego version")
        m = cls()
        part = "metrics"
        try:
            for name, metric in data["metrics"].items():
                part = f"metric {name!r}"
                kind = _KINDS.get(metric.get("kind"))
                if kind is None:
                    raise ValueError(f"metric {name!r} has unknown kind {metric.get('kind')!r}")
                m.metrics[name] = kind.from_dict(metric)
            part = "timelines"
            m.timelines = Timelines.from_dict(data.get("timelines", {}))
            part = "sets"
            m.sets = {n: SetCheck.from_dict(s) for n, s in data.get("sets", {}).items()}
            part = "probes"
            m.probes = {h: AppProbe.from_dict(p) for h, p in data.get("probes", {}).items()}
            part = "unmeasured"
            m.unmeasured = {str(n): str(r) for n, r in data.get("unmeasured", {}).items()}
        except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as e:
            raise ValueError(f"measurements: {part} is malformed ({type(e).__name__}: {e}); "
                             "was it written by to_dict() of the same pytest-diego version?") from e
        return m
