"""The suites' outcome checks fail when what they stand for goes wrong.

Each check is judged with the suite's own SLO markers, on measurements made by the suite's own
recording code from a planted fault: an instance that never runs or never answers through the
router (``InstanceRunning``, recorded however the wait ends), a lost lifecycle event
(``TaskTimelineComplete``, ``LRPTimelineComplete``), an instance of the fill that stops running
(``InstancesMissing``), a cluster over capacity that hides or misplaces what no longer fits
(``OverCapacityOutcome``, ``OverCapacityRunning``, ``PlacementErrors``), a database fault that
never reached the load or a set check with nothing in it (``OutageErrors``,
``DesiredTasks.Stable``); and the fill is sized by Diego's rule for its stress runs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from pytest_diego import slo
from pytest_diego.bbs import models
from pytest_diego.measure import Measurements
from pytest_diego.scenario import missing_instances
from pytest_diego.workload.mix import app_mix

SUITES = Path(__file__).resolve().parents[2] / "perf_suites"


def suite(name: str) -> ModuleType:
    """A perf-suite module, loaded from its file (perf_suites is not a package)."""
    module_name = f"perf_suite_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SUITES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def judge(measurements: Measurements, test_function, metric: str) -> list[slo.Verdict]:
    """The verdicts of every SLO the suite's test declares on ``metric``."""
    marks = [m for m in getattr(test_function, "pytestmark", []) if m.name == "slo" and m.args[0] == metric]
    assert marks, f"{test_function.__name__} declares no SLO on {metric}"
    return slo.evaluate_all(measurements, {metric: [e for m in marks for e in m.args[1:]]})


def actual(process_guid: str, index: int, state: str, instance_guid: str = "") -> models.ActualLRP:
    lrp = models.ActualLRP(state=state, presence=models.ActualLRP.ORDINARY)
    lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index = process_guid, index
    lrp.actual_lrp_key.domain = "d"
    lrp.actual_lrp_instance_key.instance_guid = instance_guid
    lrp.actual_lrp_instance_key.cell_id = "cell-0" if instance_guid else ""
    return lrp


class FakeBBS:
    """What the recording code reads of a BBS: ActualLRPs and DesiredLRP scheduling infos."""

    def __init__(self, actuals: list[models.ActualLRP], desired: dict[str, int] | None = None) -> None:
        self.actuals = actuals
        self.desired = desired or {}

    def actual_lrps(self, domain: str = "", process_guid: str = "") -> list[models.ActualLRP]:
        return [a for a in self.actuals if not process_guid or a.actual_lrp_key.process_guid == process_guid]

    def desired_lrp_scheduling_infos(self, domain: str = "") -> list[models.DesiredLRPSchedulingInfo]:
        infos = []
        for guid, instances in self.desired.items():
            info = models.DesiredLRPSchedulingInfo(instances=instances)
            info.desired_lrp_key.process_guid = guid
            infos.append(info)
        return infos


class Workload:
    def status(self, **_: object) -> None:
        pass


def wait_for_instances(monkeypatch, states: list[str], routed: Iterable[str]) -> tuple[Measurements, str]:
    """The burst's wait for its LRP's instances, on a BBS whose instances are in ``states`` and
    a router that answers for ``routed``; the measurements and how the wait ended."""
    burst = suite("test_burst")
    lrps = [actual("fezzik-lrp", i, state, f"g{i}" if state == "RUNNING" else "")
            for i, state in enumerate(states)]
    monkeypatch.setattr(burst, "routed_instance_guids", lambda *args: set(routed))
    measurements = Measurements()
    try:
        burst.wait_for_instances(FakeBBS(lrps), Workload(), measurements, "fezzik-lrp", len(states),
                                 "http://127.0.0.1:9", "fezzik-lrp.apps.test", 0.3)
    except pytest.fail.Exception as e:
        return measurements, str(e)
    return measurements, "done"


def test_instance_running_passes_when_every_instance_runs_and_answers(monkeypatch):
    measurements, ended = wait_for_instances(monkeypatch, ["RUNNING"] * 3, ["g0", "g1", "g2"])
    assert ended == "done"
    assert all(v.passed for v in judge(measurements, suite("test_burst").test_fast_burst, "InstanceRunning"))


@pytest.mark.parametrize("states, routed, outcome", [
    (["RUNNING", "RUNNING", "UNCLAIMED"], ["g0", "g1"], "UNCLAIMED"),
    (["RUNNING", "RUNNING", "RUNNING"], ["g0", "g1"], "not routed"),
], ids=["never-running", "never-routed"])
def test_instance_running_fails_when_the_wait_runs_out(monkeypatch, states, routed, outcome):
    measurements, ended = wait_for_instances(monkeypatch, states, routed)
    assert "every instance of the burst LRP" in ended
    # the wait failed the test, and every instance's outcome was still recorded for the verdict
    rate = measurements.rate("InstanceRunning")
    assert (rate.count, rate.failures) == (3, {outcome: 1})
    verdicts = judge(measurements, suite("test_burst").test_fast_burst, "InstanceRunning")
    assert [v.expression for v in verdicts if not v.passed] == ["rate == 1"]


@pytest.mark.parametrize("lost", [None, "task running", "task completed", "instance running"])
def test_a_lost_lifecycle_event_fails_the_timeline_checks(lost):
    burst = suite("test_burst")
    measurements = Measurements()
    timelines = measurements.timelines
    for guid in ("t0", "t1"):
        for milestone in ("desired", "running", "completed"):
            if not (guid == "t1" and lost == f"task {milestone}"):
                timelines.add_task(guid, milestone, 1.0)
    for index in range(2):
        for milestone in ("created", "running"):
            if not (index == 1 and lost == f"instance {milestone}"):
                timelines.add_lrp("p", index, milestone, 1.0)
    burst.record_timelines(measurements, ["t0", "t1"], "p", 2)
    tasks = judge(measurements, burst.test_fast_burst, "TaskTimelineComplete")
    instances = judge(measurements, burst.test_fast_burst, "LRPTimelineComplete")
    assert all(v.passed for v in tasks) is (lost is None or not lost.startswith("task"))
    assert all(v.passed for v in instances) is (lost is None or not lost.startswith("instance"))


@pytest.mark.parametrize("fault", [None, "crashed", "gone", "unclaimed"])
def test_an_instance_of_the_fill_that_stops_running_fails_instances_missing(fault):
    fill = suite("test_fill_capacity")
    actuals = [actual("steady", i, "RUNNING", f"s{i}") for i in range(3)]
    actuals.append(actual("crashing", 0, "CRASHED"))  # a crashing app of the mix: not counted
    if fault == "crashed":
        actuals[1] = actual("steady", 1, "CRASHED")
    elif fault == "gone":
        del actuals[2]
    elif fault == "unclaimed":  # e.g. its cell died and it could not be placed again
        actuals[0] = actual("steady", 0, "UNCLAIMED")
    bbs = FakeBBS(actuals, desired={"steady": 3, "crashing": 1})
    measurements = Measurements()
    measurements.gauge("InstancesMissing").add(1.0, len(missing_instances(bbs, "d", exclude={"crashing"})))
    measurements.gauge("InstancesMissing").add(2.0, 0)  # back by the soak's last sample: still a failure
    verdicts = judge(measurements, fill.test_fill_capacity_then_watch, "InstancesMissing")
    assert all(v.passed for v in verdicts) is (fault is None), [v.observed for v in verdicts]


@pytest.mark.parametrize("cells", [1, 4, 6, 10, 100, 1000])
def test_the_fill_pushes_diegos_200_instances_per_cell(cells):
    fill = suite("test_fill_capacity")
    apps = app_mix(fill.batches(cells))
    assert sum(a.desired_lrp.instances for a in apps) == 200 * cells


def task(guid: str, state: int, failed: bool = False) -> models.Task:
    return models.Task(task_guid=guid, domain="fezzik", state=state, failed=failed,
                       failure_reason="boom" if failed else "")


class TaskBBS:
    def __init__(self, tasks: list[models.Task]) -> None:
        self._tasks = tasks

    def tasks(self, domain: str = "") -> list[models.Task]:
        return list(self._tasks)


@pytest.mark.parametrize("fault", [None, "failed", "never-completed"])
def test_a_task_that_failed_or_never_completed_fails_task_succeeded(fault):
    burst = suite("test_burst")
    tasks = [task("t0", models.Task.Completed), task("t1", models.Task.Resolving)]
    if fault == "failed":
        tasks.append(task("t2", models.Task.Completed, failed=True))
    elif fault == "never-completed":
        tasks.append(task("t2", models.Task.Running))
    else:
        tasks.append(task("t2", models.Task.Completed))
    measurements, handed = Measurements(), set()
    try:
        burst.wait_for_tasks(TaskBBS(tasks), Workload(), measurements, ["t0", "t1", "t2"], 0.3,
                             on_completed=handed.update)
    except pytest.fail.Exception:
        assert fault == "never-completed"
    rate = measurements.rate("TaskSucceeded")
    assert rate.count == 3
    if fault is not None:
        assert rate.failures == {"failed: boom" if fault == "failed" else "Running": 1}
    assert handed == ({"t0", "t1"} if fault == "never-completed" else {"t0", "t1", "t2"})
    verdicts = judge(measurements, burst.test_fast_burst, "TaskSucceeded")
    assert all(v.passed for v in verdicts) is (fault is None)


class Nemesis:
    def __init__(self) -> None:
        self.killed: list[str] = []

    def kill_cell(self, cell_id: str) -> None:
        self.killed.append(cell_id)


def placed(guid: str, index: int, cell_id: str) -> models.ActualLRP:
    lrp = actual(guid, index, "RUNNING", f"{guid}-{index}")
    lrp.actual_lrp_instance_key.cell_id = cell_id
    return lrp


def unplaced(guid: str, index: int, placement_error: str) -> models.ActualLRP:
    lrp = actual(guid, index, "UNCLAIMED")
    lrp.placement_error = placement_error
    return lrp


# Four cells of two slots; cell-0 died in the first kill, so the second kill takes cell-1 and
# leaves 4 slots for 6 desired instances: 4 must run on cell-2/cell-3, 2 must show Diego's error.
HEALTHY_OVER_CAPACITY = [placed("a", 0, "cell-2"), placed("a", 1, "cell-3"), placed("b", 0, "cell-2"),
                         placed("b", 1, "cell-3"), unplaced("c", 0, "insufficient resources: memory"),
                         unplaced("c", 1, "insufficient resources: memory")]


@pytest.mark.parametrize("fault, failing", [
    (None, set()),
    ("an instance left UNCLAIMED without a placement error", {"OverCapacityOutcome"}),
    ("an instance still RUNNING on a killed cell", {"OverCapacityOutcome"}),
    ("a slot left empty", {"OverCapacityOutcome", "OverCapacityRunning"}),
    ("no placement error surfaced", {"OverCapacityOutcome", "PlacementErrors"}),
])
def test_over_capacity_checks_fail_on_what_diego_must_not_do(fault, failing):
    cell_failure = suite("test_cell_failure")
    actuals = list(HEALTHY_OVER_CAPACITY)
    if fault == "an instance left UNCLAIMED without a placement error":
        actuals[4] = unplaced("c", 0, "")
    elif fault == "an instance still RUNNING on a killed cell":
        actuals[0] = placed("a", 0, "cell-1")
    elif fault == "a slot left empty":
        actuals[3] = unplaced("b", 1, "")
    elif fault == "no placement error surfaced":
        actuals[4:] = [actual("c", 0, "CLAIMED", "c-0"), actual("c", 1, "CLAIMED", "c-1")]
    bbs = FakeBBS(actuals, desired={"a": 2, "b": 2, "c": 2})
    cells = [models.CellPresence(cell_id=f"cell-{i}") for i in range(4)]
    nemesis, measurements = Nemesis(), Measurements()
    try:
        cell_failure.over_capacity(bbs, nemesis, measurements, cells, ["cell-0"], 1, 2, recovery=0.05)
    except pytest.fail.Exception:
        assert fault is not None
    assert nemesis.killed == ["cell-1"]
    failed = {metric for metric in ("OverCapacityOutcome", "OverCapacityRunning", "PlacementErrors")
              if not all(v.passed for v in judge(measurements, cell_failure.test_cell_failure, metric))}
    assert failed == failing


class LoadResult:
    """What the database scenario reads of its desire load's result."""

    def __init__(self, failed: int, unfinished: int = 0) -> None:
        self.failed, self.unfinished = failed, unfinished


@pytest.mark.parametrize("failed", [0, 7])
def test_a_kill_that_never_reached_the_load_fails_outage_errors(failed):
    database = suite("test_database_failure")
    measurements = Measurements()
    database.count_errors(LoadResult(failed), measurements)
    verdicts = judge(measurements, database.test_database_node_killed, "OutageErrors")
    assert all(v.passed for v in verdicts) is (failed > 0)  # 0: the fault missed, nothing was tested


@pytest.mark.parametrize("fault, failing", [
    (None, set()),
    ("an acknowledged desire lost", {"DesiredTasks.Lost"}),
    ("nothing acknowledged, so nothing checked", {"DesiredTasks.Stable"}),
])
def test_the_desire_set_check_fails_on_a_lost_desire_and_on_an_empty_check(fault, failing):
    database = suite("test_database_failure")
    measurements = Measurements()
    tasks = measurements.set_check("DesiredTasks")
    acknowledged = [] if fault == "nothing acknowledged, so nothing checked" else ["t0", "t1"]
    for guid in ("t0", "t1", "t2"):  # t2's desire failed in the outage: never acknowledged
        tasks.attempt(guid)
        if guid in acknowledged:
            tasks.acknowledge(guid)
    lost = {"t1"} if fault == "an acknowledged desire lost" else set()
    tasks.read(set(acknowledged) - lost)
    failed = {metric for metric in ("DesiredTasks.Lost", "DesiredTasks.Stable")
              if not all(v.passed for v in judge(measurements, database.test_database_node_killed, metric))}
    assert failed == failing
