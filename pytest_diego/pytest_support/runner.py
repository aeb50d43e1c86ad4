"""The processes that run scenarios: the single process, and every xdist worker.

A scenario is a test marked ``scenario``, ``slo`` or ``soak``. Under xdist it runs on every
worker at once: the workers meet at a ``join`` barrier before fixtures are set up (which fixes
who takes part and each one's shard) and at a ``start`` barrier before the test body. At the end
each sends its shard (measurements, faults, outcome) to the run's owner, which merges the shards,
judges the SLOs once and sends the judgement back, so every worker reaches the same verdict.
Without xdist the same steps run with one shard. Everything goes through a ``Coordinator``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pytest_diego import slo
from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.registry import REGISTRY, UnknownMetric
from pytest_diego.measure.requests import RequestRecorder
from pytest_diego.nemesis import FaultLog, FaultNotConfigured, Nemesis
from pytest_diego.pytest_support.coordination import CoordinationError, Coordinator
from pytest_diego.pytest_support.diego import Diego, EmbeddedDiego, ExternalDiego
from pytest_diego.pytest_support.embedded import ClusterLink, ClusterUnavailable
from pytest_diego.pytest_support.judgement import Judgement
from pytest_diego.pytest_support.options import DiegoSettings
from pytest_diego.pytest_support.sampling import sampling
from pytest_diego.pytest_support.status import StatusReporter
from pytest_diego.pytest_support.target import Embedded
from pytest_diego.pytest_support.values import duration
from pytest_diego.pytest_support.workload_api import Workload

SCENARIO_MARKERS = ("scenario", "slo", "soak")
CLUSTER_FIXTURES = ("diego", "bbs", "nemesis")
PLUGIN_MODULE = "pytest_diego.plugin"
RUN = pytest.StashKey["ScenarioRun"]()
LOCAL = pytest.StashKey[Measurements]()
Expression = str | Callable[[Timing], str]


class NotMeasuredWarning(UserWarning):
    """A scenario passed, but some of its thresholds could not be measured on this target."""


class NotAParticipant(Exception):
    """This process reached a scenario after its partners had started it without it."""


def is_scenario(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in SCENARIO_MARKERS)


def declared_slos(item: pytest.Item, timing: Timing) -> dict[str, tuple[str, ...]]:
    """``{metric: expressions}`` from the item's ``slo`` markers; an expression may be a
    callable of the target's ``Timing`` (bounds derived from Diego's intervals)."""
    slos: dict[str, tuple[str, ...]] = {}
    for mark in reversed(list(item.iter_markers("slo"))):  # in the order they are written
        if not mark.args or not isinstance(mark.args[0], str) or len(mark.args) < 2:
            raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.slo('Metric', 'p(99) < 1s', ...):"
                                    " a metric name, then one or more expressions")
        metric = mark.args[0]
        expressions = tuple(_expression(e, timing, item.nodeid, metric) for e in mark.args[1:])
        slos[metric] = slos.get(metric, ()) + expressions
    return slos


def _expression(expression: Expression, timing: Timing, nodeid: str, metric: str) -> str:
    if callable(expression):
        try:
            expression = expression(timing)
        except Exception as exc:
            raise pytest.UsageError(f"{nodeid}: the SLO for {metric} could not be derived from the "
                                    f"target's timing: {type(exc).__name__}: {exc}") from None
    return str(expression)


def check_thresholds(thresholds: dict[str, tuple[str, ...]], where: str) -> None:
    """Every threshold parses, names a defined metric and fits its kind: a usage error if not."""
    for metric, expressions in thresholds.items():
        try:
            spec = REGISTRY.require(metric)
        except UnknownMetric as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
        for expression in expressions:
            try:
                slo.check_applicable(spec.kind, spec.unit, slo.parse(expression), metric)
            except slo.SLOSyntaxError as exc:
                raise pytest.UsageError(f"{where}: bad SLO for {metric}: {exc}") from None
            except ValueError as exc:
                raise pytest.UsageError(f"{where}: bad SLO for {metric} {expression!r}: {exc}") from None


def soak_seconds(item: pytest.Item) -> float | None:
    mark = item.get_closest_marker("soak")
    if mark is None:
        return None
    value = mark.args[0] if mark.args else mark.kwargs.get("duration")
    return duration(value, f"{item.nodeid}: @pytest.mark.soak(duration)", 0.0) if value is not None else None


class ScenarioRun:
    """A scenario's life in this process: barriers, its shard, then the judgement."""

    def __init__(self, nodeid: str, coordinator: Coordinator, members: list[str],
                 thresholds: dict[str, tuple[str, ...]]) -> None:
        self.nodeid = nodeid
        self.coordinator = coordinator
        self.me = coordinator.me
        self.members = members
        self.thresholds = thresholds
        self.measurements = Measurements()
        self.faults = FaultLog()
        self.participants = [self.me]

    @property
    def index(self) -> int:
        return self.participants.index(self.me)

    @property
    def count(self) -> int:
        return len(self.participants)

    @property
    def leader(self) -> bool:
        return self.index == 0

    def join(self) -> None:
        """Meet the partners before setup; fixes who takes part and this process's shard."""
        self.participants = self.coordinator.barrier(self.nodeid, "join", self.members)
        if self.me not in self.participants:
            raise NotAParticipant(f"{self.nodeid}: this worker arrived after its partners had started "
                                  "the scenario without it (raise --diego-barrier-timeout)")

    def start(self) -> None:
        """Meet again right before the test body, so the shards' load starts together."""
        self.coordinator.barrier(self.nodeid, "start", self.participants)

    def sync(self, name: str) -> None:
        """Wait until every shard of this scenario reached the point ``name``."""
        self.coordinator.barrier(self.nodeid, f"sync:{name}", self.participants)

    def finish(self, error: str | None = None, skipped: bool = False, wait: bool = True) -> Judgement | None:
        """Send this shard; unless it failed here, wait for the judgement of all shards."""
        shard = {"worker": self.me, "index": self.index, "count": self.count,
                 "thresholds": {m: list(e) for m, e in self.thresholds.items()},
                 "measurements": self.measurements.to_dict(),
                 "faults": [e.to_dict() for e in self.faults.events],
                 "error": error, "skipped": skipped}
        return self.coordinator.shard(self.nodeid, shard, wait=wait and error is None)


class ScenarioRunner:
    """The scenario hooks and the fixtures' objects of a process that runs tests."""

    def __init__(self, config: pytest.Config, settings: DiegoSettings, coordinator: Coordinator,
                 link: ClusterLink | None, members: list[str]) -> None:
        self.config = config
        self.settings = settings
        self.coordinator = coordinator
        self.link = link
        self.members = members
        self.timing = settings.target.timing
        self._diego: Diego | None = None
        for key, expression in settings.overrides.items():  # metrics are checked at collection
            try:
                slo.parse(expression)
            except slo.SLOSyntaxError as exc:
                raise pytest.UsageError(f"--diego-slo/--diego-slo-file: bad SLO for {key}: {exc}") from None

    # -- collection -------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        scenarios = []
        for item in items:
            if is_scenario(item):
                check_thresholds(self.thresholds(item), item.nodeid)
                soak_seconds(item)
                scenarios.append(item.nodeid)
        self.coordinator.manifest(scenarios, any(_uses_diego(item) for item in items))

    def thresholds(self, item: pytest.Item) -> dict[str, tuple[str, ...]]:
        """The item's declared SLOs with the run's overrides applied."""
        return self.settings.overrides.apply(item.nodeid, item.name, declared_slos(item, self.timing))

    # -- running a scenario -----------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        if not is_scenario(item):
            return (yield)
        run = ScenarioRun(item.nodeid, self.coordinator, self.members, self.thresholds(item))
        item.stash[RUN] = run
        try:
            run.join()
        except NotAParticipant as exc:
            pytest.skip(str(exc))
        try:
            return (yield)
        except BaseException as exc:
            run.finish(_describe(exc), isinstance(exc, pytest.skip.Exception), wait=False)
            raise

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        run = item.stash.get(RUN, None)
        if run is None:
            try:
                return (yield)
            except FaultNotConfigured as exc:
                pytest.skip(str(exc))
        run.start()
        try:
            with self._sampling(item, run):
                result = yield
        except FaultNotConfigured as exc:
            run.finish(str(exc), skipped=True, wait=False)
            pytest.skip(str(exc))
        except BaseException as exc:
            run.finish(_describe(exc), isinstance(exc, pytest.skip.Exception), wait=False)
            raise
        judgement = run.finish()
        assert judgement is not None
        item.user_properties.extend(junit_property(v) for v in judgement.verdicts)
        if judgement.failed:
            pytest.fail(judgement.message(), pytrace=False)
        if judgement.not_measured:
            warnings.warn(NotMeasuredWarning(judgement.warning()), stacklevel=1)
        return result

    @contextmanager
    def _sampling(self, item: pytest.Item, run: ScenarioRun) -> Iterator[None]:
        """Diego's metrics sampled while a scenario that uses Diego runs (leader shard only)."""
        interval = self.settings.sample_interval
        sources = self.diego().metrics_sources() if run.leader and interval and _uses_diego(item) else []
        with sampling(sources, run.measurements, interval):
            yield

    def close(self) -> None:
        if self.link is not None:
            self.link.close()

    # -- the fixtures' objects --------------------------------------------------------------
    def diego(self) -> Diego:
        if self._diego is None:
            target = self.settings.target
            if isinstance(target, Embedded):
                assert self.link is not None
                self._diego = EmbeddedDiego(target, _FailingLink(self.link), self.settings.work)
            else:
                self._diego = ExternalDiego(target, self.settings.work)
        return self._diego

    def measurements_for(self, item: pytest.Item) -> Measurements:
        run = item.stash.get(RUN, None)
        if run is not None:
            return run.measurements
        return item.stash.setdefault(LOCAL, Measurements())

    def client_for(self, item: pytest.Item) -> BBSClient:
        return self.diego().client(observer=RequestRecorder(self.measurements_for(item)))

    def nemesis_for(self, item: pytest.Item) -> Nemesis:
        run = item.stash.get(RUN, None)
        if run is None:
            return self.diego().nemesis(seed=item.nodeid)
        return self.diego().nemesis(run.faults, leader=run.leader, seed=item.nodeid)

    def workload_for(self, item: pytest.Item) -> Workload:
        run = item.stash.get(RUN, None)
        index, count = (run.index, run.count) if run is not None else (0, 1)
        mark = item.get_closest_marker("scenario")
        name = str(mark.args[0]) if mark is not None and mark.args else item.name
        size = mark.kwargs.get("size") if mark is not None else None
        if size is not None and (not isinstance(size, int) or size < 0):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.scenario(size=...) must be a whole number")
        worker = None if self.coordinator.me == "main" else self.coordinator.me
        status = StatusReporter(item.nodeid, worker, self.coordinator.status)
        return Workload(name, index, count, self.settings.scale, size, soak_seconds(item),
                        self.measurements_for(item), status, run.sync if run is not None else None)


class _FailingLink:
    """A cluster link whose failure to start fails the test that needed it, with the reason."""

    def __init__(self, link: ClusterLink) -> None:
        self.link = link

    def cluster(self) -> Any:
        try:
            return self.link.cluster()
        except (ClusterUnavailable, CoordinationError) as exc:
            pytest.fail(str(exc), pytrace=False)

    def live_cells(self) -> list[str]:
        return self.link.live_cells()

    def deliver(self, kind: str, target: str) -> str:
        return self.link.deliver(kind, target)

    def close(self) -> None:
        self.link.close()


def junit_property(verdict: slo.Verdict) -> tuple[str, str]:
    """One SLO as a ``--junitxml`` property, readable where CI shows a test case's properties:
    name ``slo:<metric> <threshold>`` (``baseline:...`` for the baseline comparison), value
    ``<outcome>: <observed>``, then ``(<why>)`` when it did not pass and ``# <note>`` when the
    threshold has one; a verdict with nothing observed gives its reason instead, e.g.
    ``not measured: set --diego-metrics-url``."""
    v = verdict
    value = f"{v.outcome}: {v.observed_text or v.detail}"
    if v.observed_text and v.detail and not v.passed:
        value += f" ({v.detail})"
    if v.note:
        value += f" # {v.note}"
    return f"{v.source}:{v.metric} {v.expression}", value


def _uses_diego(item: pytest.Item) -> bool:
    """Whether the item uses this plugin's ``diego``, ``bbs`` or ``nemesis`` fixture (a project's
    own fixture of the same name, which overrides ours, does not count)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for name in CLUSTER_FIXTURES:
        definitions = info.name2fixturedefs.get(name)
        if definitions and getattr(definitions[-1].func, "__module__", None) == PLUGIN_MODULE:
            return True
    return False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
