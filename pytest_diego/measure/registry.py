"""Which metrics exist, of which kind: SLOs are checked against it before a run starts.

k6 rejects a threshold on an unknown metric before the load begins; so does pytest-diego. Every
metric an SLO names must be defined here, by pytest-diego (Diego's and the harness's metrics,
``names``) or by the scenario that records it::

    from pytest_diego.measure import define_metric

    define_metric("BurstDuration", "gauge", unit="s", about="first desire to last Task completed")

A name ending in ``.*`` defines a family (``RequestLatency.*`` covers
``RequestLatency.DesireTask``). At collection every ``slo`` marker is checked: the metric must
be defined and the aggregation must fit its kind (``value`` is for gauges, ``p(99)`` not for
rates, time units only on durations). When a metric is first recorded, its kind is checked
against its definition and a gauge takes its unit from it.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_diego.bbs.routes import ROUTES
from pytest_diego.measure import names

KINDS = ("trend", "rate", "gauge")


@dataclass(frozen=True)
class MetricSpec:
    """A defined metric: ``kind`` is trend, rate or gauge; ``unit`` "s" marks a duration gauge.
    A family (``name`` ending in ``.*``) may list its ``members`` (the BBS's route names for
    ``RequestLatency.*``), so a misspelt member is refused too."""

    name: str
    kind: str
    unit: str = ""
    about: str = ""
    members: frozenset[str] | None = None


class UnknownMetric(LookupError):
    """An SLO names a metric nobody defined; the message suggests near names and the fix."""


class MetricRegistry:
    """Metric definitions by exact name and by family prefix (``RequestLatency.*``)."""

    def __init__(self) -> None:
        self._specs: dict[str, MetricSpec] = {}
        self._lock = threading.Lock()

    def define(self, name: str, kind: str, unit: str = "", about: str = "",
               members: Iterable[str] | None = None) -> MetricSpec:
        """Define a metric (again with the same kind and unit is fine: modules are re-imported)."""
        if kind not in KINDS:
            raise ValueError(f"metric {name!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if unit not in ("", "s"):
            raise ValueError(f"metric {name!r}: unit is 's' for a duration or '' for a count")
        spec = MetricSpec(name, kind, unit, about, None if members is None else frozenset(members))
        with self._lock:
            known = self._specs.get(name)
            if known is not None and (known.kind, known.unit) != (kind, unit):
                raise ValueError(f"metric {name!r} is already defined as a {known.kind}"
                                 f"{' of seconds' if known.unit else ''}; pick another name")
            self._specs[name] = spec if known is None or about else known
        return spec

    def lookup(self, name: str) -> MetricSpec | None:
        """The definition of ``name``: exact, else the longest family that covers it."""
        spec = self._specs.get(name)
        if spec is not None:
            return spec
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            family = self._specs.get(".".join(parts[:cut]) + ".*")
            member = ".".join(parts[cut:])
            if family is not None and (family.members is None or member in family.members):
                return MetricSpec(name, family.kind, family.unit, family.about)
        return None

    def require(self, name: str) -> MetricSpec:
        """``lookup``, or ``UnknownMetric`` naming close matches and how to define it."""
        spec = self.lookup(name)
        if spec is not None:
            return spec
        known = [s.name for s in self._specs.values() if s.members is None]
        known += [s.name[:-1] + m for s in self._specs.values() for m in (s.members or ())]
        near = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise UnknownMetric(f"unknown metric {name!r}: {hint}define it where it is recorded with "
                            f"pytest_diego.measure.define_metric({name!r}, 'trend'|'rate'|'gauge')")

    def specs(self) -> list[MetricSpec]:
        return sorted(self._specs.values(), key=lambda s: s.name)


REGISTRY = MetricRegistry()
define_metric = REGISTRY.define

_BUILT_IN: tuple[tuple[str, str, str, str], ...] = (
    (names.REQUEST_LATENCY, "trend", "", "every BBS request as the client saw it"),
    (names.TASK_LIFECYCLE, "trend", "", "perfchug: desire-task.starting to complete-task.complete"),
    (names.LRP_LIFECYCLE, "trend", "", "perfchug: create-unclaimed to start-actual-lrp.complete"),
    (names.AUCTION_SCHEDULE_DURATION, "trend", "", "perfchug: auction.scheduling to scheduled"),
    (names.LAGER_REQUEST_LATENCY, "trend", "", "server-side request latency from lager logs"),
    (names.TASK_TIME_TO_RUNNING, "trend", "", "Task desired to running"),
    (names.TASK_TIME_TO_COMPLETE, "trend", "", "Task desired to completed"),
    (names.LRP_TIME_TO_CLAIM, "trend", "", "ActualLRP created to claimed"),
    (names.LRP_TIME_TO_RUNNING, "trend", "", "ActualLRP created to running"),
    (names.ROUTER_ROUTES, "gauge", "", "hostnames in the router's table"),
    (names.ROUTER_ENDPOINTS, "gauge", "", "route-endpoint pairs in the router's table"),
    (names.ROUTE_AVAILABILITY, "rate", "", "app route probes through the router"),
    (names.ROUTE_PROBE_LATENCY, "trend", "", "latency of the route probes"),
    (names.LOAD_LATENCY, "trend", "", "load operations from their intended start"),
    (names.LOAD_SERVICE_TIME, "trend", "", "load operations from their actual start"),
    (names.LOAD_STARTS, "rate", "", "load starts on time; late and dropped starts fail"),
    (names.CRASH_RESTART_ON_POLICY, "rate", "", "crash restarts judged against Diego's policy"),
    *((name, "gauge", "s", "Diego's loop duration") for name in names.LOOP_DURATIONS),
    *((name, "gauge", "", "Diego's cluster gauge") for name in names.CLUSTER_GAUGES),
    ("ContainerCount", "gauge", "", "containers on the cells"),
    ("ContainerCount.*", "gauge", "", "containers on one cell"),
)
for _name, _kind, _unit, _about in _BUILT_IN:
    define_metric(_name, _kind, _unit, _about)
define_metric(names.REQUEST_LATENCY + ".*", "trend", "", "BBS requests of one route, Diego's route names",
              members=ROUTES)
