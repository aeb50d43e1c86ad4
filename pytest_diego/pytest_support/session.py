"""``DiegoSession``: one run's coordinator, registered as a plugin by ``plugin.py``.

It plays one of three roles. **single** (no xdist) and **controller** (xdist's main process)
own the run directory, the embedded cluster and results.json; **worker** (an xdist worker) runs
its shard of every scenario and attaches to the controller's cluster. Scenario results always
flow through shard files in the run directory, so the single process and the controller build
results.json and the SLO table the same way.
"""

from __future__ import annotations

import contextlib
import platform
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import pytest_diego
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.requests import RequestRecorder
from pytest_diego.nemesis import FaultNotConfigured
from pytest_diego.pytest_support.handle import ClusterAccess, DiegoHandle
from pytest_diego.pytest_support.options import DiegoSettings
from pytest_diego.pytest_support.rundir import RunDir
from pytest_diego.pytest_support.sampling import sampling
from pytest_diego.pytest_support.scenario import ScenarioRun, declared_slos, is_scenario, judge_shards
from pytest_diego.pytest_support.scheduler import FanOutScheduling
from pytest_diego.pytest_support.status import StatusReporter, StatusTail, TerminalStatus, format_status
from pytest_diego.pytest_support.values import duration
from pytest_diego.pytest_support.verdicts import Baseline, check_expression
from pytest_diego.pytest_support.workload_api import Workload
from pytest_diego.report.results import summarize, write_results
from pytest_diego.report.terminal import write_slo_table

RUN = pytest.StashKey[ScenarioRun]()
LOCAL = pytest.StashKey[Measurements]()
FANOUT_DIST = ("load", "each")
CLUSTER_FIXTURES = ("diego", "bbs", "nemesis")
PLUGIN_MODULE = "pytest_diego.plugin"


class DiegoSession:
    def __init__(self, config: pytest.Config, settings: DiegoSettings) -> None:
        self.config = config
        self.settings = settings
        for key, expression in settings.overrides.items():
            check_expression(key.rpartition("::")[2], expression, "--diego-slo/--diego-slo-file")
        self.baseline = (Baseline(settings.baseline, settings.baseline_tolerance)
                         if settings.baseline else None)
        workerinput = getattr(config, "workerinput", None)
        self.dist = config.getoption("dist", "no")
        if workerinput is not None:
            self.role = "worker"
            self.me = workerinput["workerid"]
            self.run_dir = RunDir(workerinput["diego_run_dir"])
            cluster_dir = Path(workerinput["diego_cluster_dir"])
            fanout = workerinput.get("diego_fanout", True)
            self.members = [f"gw{i}" for i in range(workerinput["workercount"])] if fanout else [self.me]
        else:
            collecting = config.getoption("collectonly")
            self.role = "controller" if self.dist != "no" and not collecting else "single"
            self.me = "main"
            self.run_dir = RunDir()
            self.members = [self.me]
            cluster_dir = settings.results_dir / "cluster"
        self.access = ClusterAccess(settings.target, cluster_dir, self.role != "worker")
        self.handle = DiegoHandle(settings.target, self.access)
        self.scenario_ids: list[str] = []
        self.reports: dict[str, dict[str, list[pytest.TestReport]]] = {}
        self.tests: dict[str, dict[str, Any]] = {}
        self.started_at = time.time()
        self.interrupted = False
        self.terminal = TerminalStatus(config, capture_aware=self.role == "single")
        self.tail = StatusTail(self.run_dir, TerminalStatus(config, capture_aware=False)) \
            if self.role == "controller" else None
        self._previous_sigterm: Any = None

    @property
    def owner(self) -> bool:
        return self.role != "worker"

    # -- lifetime --------------------------------------------------------------------------------
    def start(self) -> None:
        if self.owner and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        if self.tail is not None:
            self.tail.start()
        if self.role == "controller" and self.dist not in FANOUT_DIST:
            self.config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"--dist {self.dist}: Diego scenarios will each run whole on one worker instead of as "
                "shards on every worker; use the default --dist load to fan them out"), stacklevel=2)

    def stop(self) -> None:
        if self.tail is not None:
            self.tail.stop()
        self.access.stop()
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
        if self.owner:
            self.run_dir.remove()

    # -- xdist, controller side ------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["diego_run_dir"] = str(self.run_dir.path)
        node.workerinput["diego_cluster_dir"] = str(self.access.state_dir)
        node.workerinput["diego_fanout"] = self.dist in FANOUT_DIST

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        return FanOutScheduling(config, log, self.run_dir) if self.dist == "load" else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Before any test is scheduled: learn the scenarios; start the cluster if one is needed."""
        manifest = self.run_dir.manifest(node.gateway.id)
        self.scenario_ids.extend(i for i in manifest["scenarios"] if i not in self.scenario_ids)
        if manifest["needs_cluster"]:
            self.access.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error is not None:
            self.run_dir.mark_dead(node.gateway.id, str(error).strip() or "crashed")

    # -- collection -----------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        scenarios = []
        needs_cluster = False
        for item in items:
            if is_scenario(item):
                declared_slos(item)
                _soak_seconds(item)
                scenarios.append(item.nodeid)
            needs_cluster = needs_cluster or _uses_diego(item)
        self.scenario_ids = scenarios
        if self.role == "worker":
            self.run_dir.write_manifest(self.me, scenarios, needs_cluster)

    # -- running a scenario ---------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        if not is_scenario(item):
            return (yield)
        thresholds = self.settings.overrides.apply(item.nodeid, item.name, declared_slos(item))
        run = ScenarioRun(item, self.run_dir, self.me, self.members, thresholds,
                          self.settings.barrier_timeout, self.baseline)
        item.stash[RUN] = run
        run.join()
        try:
            return (yield)
        except BaseException as exc:
            run.abandon(_describe(exc), isinstance(exc, pytest.skip.Exception))
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
            with sampling(self._metrics_urls(item, run), run.measurements, self.settings.sample_interval):
                result = yield
        except FaultNotConfigured as exc:
            run.finish(str(exc), skipped=True)
            pytest.skip(str(exc))
        except BaseException as exc:
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            run.finish(_describe(exc), isinstance(exc, pytest.skip.Exception), wait=not interrupted)
            raise
        judgement = run.finish()
        assert judgement is not None
        for v in judgement.verdicts:
            item.user_properties.append((f"{v.source} {v.metric} {v.expression}",
                                         f"{v.observed} {'passed' if v.passed else 'failed'}"))
        if judgement.failed:
            pytest.fail(judgement.message(), pytrace=False)
        return result

    def _metrics_urls(self, item: pytest.Item, run: ScenarioRun) -> list[str]:
        """The endpoints the leader shard samples while a scenario that uses Diego runs."""
        if not run.leader or not _uses_diego(item) or self.settings.sample_interval == 0:
            return []
        if self.handle.embedded:
            return list(self.access.get().metrics_urls.values())
        return list(self.settings.target.metrics_urls.values())  # type: ignore[union-attr]

    # -- fixtures' objects ----------------------------------------------------------------------
    def measurements_for(self, item: pytest.Item) -> Measurements:
        run = item.stash.get(RUN, None)
        if run is not None:
            return run.measurements
        return item.stash.setdefault(LOCAL, Measurements())

    def client_for(self, item: pytest.Item) -> Any:
        return self.handle.client(observer=RequestRecorder(self.measurements_for(item)))

    def nemesis_for(self, item: pytest.Item) -> Any:
        run = item.stash.get(RUN, None)
        if run is None:
            return self.handle.nemesis(seed=item.nodeid)
        return self.handle.nemesis(run.faults, leader=run.leader, seed=item.nodeid)

    def workload_for(self, item: pytest.Item) -> Workload:
        run = item.stash.get(RUN, None)
        index, count = (run.index, run.count) if run is not None else (0, 1)
        mark = item.get_closest_marker("scenario")
        name = str(mark.args[0]) if mark is not None and mark.args else item.name
        size = mark.kwargs.get("size") if mark is not None else None
        if size is not None and (not isinstance(size, int) or size < 0):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.scenario(size=...) must be a whole number")
        status = StatusReporter(item.nodeid, None if self.owner else self.me, self._emit_status)
        return Workload(name, index, count, self.settings.scale, size, _soak_seconds(item),
                        self.measurements_for(item), status)

    def _emit_status(self, status: dict[str, Any]) -> None:
        if self.owner:
            self.terminal.show(format_status(status))
        else:
            self.run_dir.write_status(self.me, status)

    # -- results --------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.owner or report.nodeid not in self.scenario_ids:
            return
        node = getattr(report, "node", None)
        worker = node.gateway.id if node is not None else self.me
        self.reports.setdefault(report.nodeid, {}).setdefault(worker, []).append(report)
        if report.when in ("teardown", "???"):
            self._update(report.nodeid)
            self.write_results()

    def _update(self, nodeid: str) -> None:
        shards = self.run_dir.shards(nodeid)
        thresholds = next((s["thresholds"] for s in shards.values()), {})
        judgement = judge_shards(shards, thresholds, self.baseline, nodeid)
        reports = self.reports.get(nodeid, {})
        self.tests[nodeid] = {
            "outcome": _outcome([r for rs in reports.values() for r in rs]),
            "workers": {w: _outcome(rs) for w, rs in sorted(reports.items())},
            "reasons": [_reason(w, r) for w, rs in sorted(reports.items()) for r in rs if r.failed],
            "verdicts": [v.to_dict() for v in judgement.verdicts],
            **summarize(judgement.merged),
            "faults": judgement.faults,
        }

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        if not self.owner:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.interrupted = True
        for nodeid in self.run_dir.scenarios():
            if nodeid not in self.tests:
                self.scenario_ids.append(nodeid)
                self._update(nodeid)
        if self.tests:
            self.write_results()
            self.write_report()

    def write_report(self) -> None:
        """report.html beside results.json, once per run (rendering takes seconds). A plot that
        cannot be drawn must not cost the run its verdicts, so a failure is a warning."""
        from pytest_diego.report.html import render_report  # matplotlib loads only here

        results_dir = self.settings.results_dir
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        try:
            path = render_report(results_dir / "results.json", results_dir / "report.html")
        except Exception as e:
            message = f"pytest-diego: {results_dir / 'report.html'} not written: {type(e).__name__}: {e}"
        else:
            message = f"pytest-diego: results in {results_dir / 'results.json'}, report in {path}"
        if terminal is not None:
            terminal.ensure_newline()
            terminal.write_line(message)

    def write_results(self) -> None:
        environment = {
            "target": self.settings.target.describe(), **self.access.describe(),
            "versions": {"pytest-diego": pytest_diego.__version__, "pytest": pytest.__version__,
                         "python": platform.python_version()},
            "scale": self.settings.scale,
            "workers": self.config.getoption("numprocesses", None) if self.role == "controller" else 0,
        }
        write_results(self.settings.results_dir / "results.json", {
            "started_at": self.started_at, "finished_at": time.time(), "interrupted": self.interrupted,
            "environment": environment, "tests": self.tests})

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        result = yield
        if self.owner:
            write_slo_table(terminalreporter, self.tests)
        return result


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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _soak_seconds(item: pytest.Item) -> float | None:
    mark = item.get_closest_marker("soak")
    if mark is None:
        return None
    value = mark.args[0] if mark.args else mark.kwargs.get("duration")
    return duration(value, f"{item.nodeid}: @pytest.mark.soak(duration)", 0.0) if value is not None else None


def _outcome(reports: list[pytest.TestReport]) -> str:
    if any(r.failed and r.when in ("call", "???") for r in reports):
        return "failed"
    if any(r.failed for r in reports):
        return "error"
    if any(r.skipped for r in reports):
        return "skipped"
    return "passed" if reports else "unknown"


def _reason(worker: str, report: pytest.TestReport) -> str:
    text = (getattr(report, "longreprtext", "") or str(report.longrepr or report.outcome)).strip()
    return f"[{worker}] {text[-2000:]}"
