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
from pytest_diego.measure.routes import AppProbe
from pytest_diego.measure.setcheck import SetCheck
from pytest_diego.measure.timeline import Timelines

Metric = Trend | Rate | Gauge
_KINDS: dict[str, type[Trend] | type[Rate] | type[Gauge]] = {"trend": Trend, "rate": Rate,
                                                            "gauge": Gauge}
SCHEMA = 1


class Measurements:
    """Named metrics, lifecycle timelines, set checks and route probe results."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.timelines = Timelines()
        self.sets: dict[str, SetCheck] = {}
        self.probes: dict[str, AppProbe] = {}
        self._lock = threading.Lock()

    # -- getting metrics by kind (created on first use) -------------------------------------------
    def trend(self, name: str) -> Trend:
        return self._get(name, Trend)  # type: ignore[return-value]

    def rate(self, name: str) -> Rate:
        return self._get(name, Rate)  # type: ignore[return-value]

    def gauge(self, name: str, unit: str = "") -> Gauge:
        gauge = self._get(name, Gauge)
        assert isinstance(gauge, Gauge)
        gauge.unit = gauge.unit or unit
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
            with self._lock:
                metric = self.metrics.setdefault(name, kind())
        if type(metric) is not kind:
            raise TypeError(f"metric {name!r} is a {metric.kind}, not a {kind.kind}")
        return metric

    def metric(self, name: str) -> Metric | None:
        """A recorded metric, or a timeline stage (``LRPTimeToRunning``...) derived on demand."""
        if name in self.metrics:
            return self.metrics[name]
        return self.timelines.stage_trends().get(name)

    def names(self) -> list[str]:
        return sorted(set(self.metrics) | set(self.timelines.stage_trends()))

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
                "probes": {h: p.to_dict() for h, p in sorted(self.probes.items())}}

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
        except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as e:
            raise ValueError(f"measurements: {part} is malformed ({type(e).__name__}: {e}); "
                             "was it written by to_dict() of the same pytest-diego version?") from e
        return m
