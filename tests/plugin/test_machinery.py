"""The plugin's machinery without pytest runs: shares, overrides, the hub's barriers, the table."""

from __future__ import annotations

import json
import queue
import time

from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure.measurements import Measurements
from pytest_diego.pytest_support.coordination import ChannelCoordinator, Hub, serve_channel
from pytest_diego.pytest_support.judgement import Judgement
from pytest_diego.pytest_support.overrides import SLOOverrides, load_overrides
from pytest_diego.pytest_support.workload_api import Workload
from pytest_diego.report.terminal import Row, format_table, title


def _workload(index: int, count: int, scale: float = 1.0) -> Workload:
    return Workload("w", index, count, scale, None, None, Measurements(), None)


@given(total=st.integers(0, 10_000), count=st.integers(1, 16))
def test_shares_add_up_to_the_total_and_shards_partition_the_items(total, count):
    shards = [_workload(i, count) for i in range(count)]
    assert sum(w.share(total) for w in shards) == total
    items = list(range(total))
    parts = [w.shard(items) for w in shards]
    assert sorted(x for part in parts for x in part) == items
    assert [list(w.indices(total)) for w in shards] == parts


def test_scaled_sizes():
    assert _workload(0, 1, 0.5).scaled(10) == 5
    assert _workload(0, 1, 0.01).scaled(10) == 1  # a positive size never scales to nothing
    assert _workload(0, 1, 3).scaled(0) == 0


def test_overrides_replace_declared_metrics_and_add_per_test_ones():
    overrides = load_overrides(["Op=p(99)<2s; max<5s", "test_a::Extra=count>0",
                                "test_b.py::test_b::Op=rate>=0.9"], None)
    declared = {"Op": ("p(99) < 1s",), "Other": ("max < 1s",)}
    assert overrides.apply("test_a.py::test_a[1]", "test_a[1]", declared) == {
        "Op": ("p(99)<2s", "max<5s"), "Other": ("max < 1s",), "Extra": ("count>0",)}
    assert overrides.apply("test_b.py::test_b", "test_b", declared)["Op"] == ("rate>=0.9",)
    assert overrides.apply("test_c.py::test_c", "test_c", {}) == {}  # never adds a global one
    assert SLOOverrides().apply("x::y", "y", declared) == declared


class FakeOwner:
    """The owner's side of the hub: judges by counting each shard's recorded operations."""

    def __init__(self) -> None:
        self.judged: list[tuple[str, list[str], list[str]]] = []

    def judge(self, nodeid, shards, problems):
        self.judged.append((nodeid, sorted(shards), list(problems)))
        return Judgement([], list(problems))

    def show_status(self, status):
        pass

    def cluster_description(self):
        return {}

    def fault(self, kind, target):
        return ""


def _arrive(hub: Hub, worker: str, phase: str, members: list[str]) -> list:
    answers: list = []
    hub.handle(worker, "barrier", {"nodeid": "t.py::t", "phase": phase, "members": members}, answers.append)
    return answers


def test_barrier_answers_everyone_alike_once_all_arrived_and_skips_the_dead():
    hub = Hub(FakeOwner(), timeout=30)
    hub.worker_died("gw2", "node down: Not properly terminated")
    first = _arrive(hub, "gw0", "join", ["gw0", "gw1", "gw2"])
    assert first == []  # gw1 has not arrived yet
    second = _arrive(hub, "gw1", "join", ["gw0", "gw1", "gw2"])
    assert first == second == [["gw0", "gw1"]]
    late = _arrive(hub, "gw2", "join", ["gw0", "gw1", "gw2"])
    assert late == [["gw0", "gw1"]]  # too late: told who took part, without it


def test_a_barrier_partner_that_never_arrives_is_left_behind_after_the_timeout():
    hub = Hub(FakeOwner(), timeout=0.2)
    hub.start()
    try:
        answers = _arrive(hub, "gw0", "start", ["gw0", "gw1"])
        deadline = time.monotonic() + 10
        while not answers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answers == [["gw0"]]
    finally:
        hub.stop()


def test_shards_are_judged_once_when_every_participant_sent_one_and_all_get_the_same_answer():
    owner = FakeOwner()
    hub = Hub(owner, timeout=30)
    _arrive(hub, "gw0", "join", ["gw0", "gw1"])
    _arrive(hub, "gw1", "join", ["gw0", "gw1"])
    answers: list = []
    hub.handle("gw0", "shard", {"nodeid": "t.py::t", "shard": {"worker": "gw0"}}, answers.append)
    assert answers == [] and owner.judged == []
    hub.handle("gw1", "shard", {"nodeid": "t.py::t", "shard": {"worker": "gw1"}}, answers.append)
    assert owner.judged == [("t.py::t", ["gw0", "gw1"], [])]
    assert len(answers) == 2 and answers[0] == answers[1]


def test_a_partner_that_dies_before_its_shard_is_named_in_the_judgement():
    owner = FakeOwner()
    hub = Hub(owner, timeout=30)
    _arrive(hub, "gw0", "join", ["gw0", "gw1"])
    _arrive(hub, "gw1", "join", ["gw0", "gw1"])
    answers: list = []
    hub.handle("gw0", "shard", {"nodeid": "t.py::t", "shard": {}}, answers.append)
    hub.worker_died("gw1", "node down: Not properly terminated")
    assert owner.judged == [("t.py::t", ["gw0"], ["worker gw1 died: node down: Not properly terminated"])]
    assert answers and answers[0]["problems"] == ["worker gw1 died: node down: Not properly terminated"]


def test_a_shard_sent_instead_of_running_releases_the_partners_later_barriers():
    hub = Hub(FakeOwner(), timeout=30)
    _arrive(hub, "gw0", "join", ["gw0", "gw1"])
    _arrive(hub, "gw1", "join", ["gw0", "gw1"])
    hub.handle("gw1", "shard", {"nodeid": "t.py::t", "shard": {"error": "setup failed"}}, None)
    assert _arrive(hub, "gw0", "start", ["gw0", "gw1"]) == [["gw0"]]


def test_the_channel_coordinator_speaks_to_the_hub_and_drops_stale_answers():
    hub = Hub(FakeOwner(), timeout=30)

    class Pipe:
        """Both ends of a channel in one process: what the worker sends reaches the hub."""

        def __init__(self) -> None:
            self.to_worker: queue.Queue = queue.Queue()
            self.serve = serve_channel(hub, "gw0", self)
            self.to_worker.put(json.dumps([999, True, "a stale answer"]))

        def send(self, item):  # the controller's send lands in the worker's queue and vice versa
            if json.loads(item)[1] in (True, False):
                self.to_worker.put(item)
            else:
                self.serve(item)

        def receive(self, timeout=None):
            return self.to_worker.get(timeout=timeout)

    coordinator = ChannelCoordinator(Pipe(), "gw0", timeout=5)
    assert coordinator.barrier("t.py::t", "join", ["gw0"]) == ["gw0"]
    judgement = coordinator.shard("t.py::t", {"worker": "gw0"}, wait=True)
    assert judgement is not None and not judgement.failed


def test_table_is_aligned_and_marks_each_outcome():
    header, ok, bad, unmeasured, skipped = format_table([
        Row("t.py::a", "Op", "p(99) < 1s", "p(99)=3ms", "passed"),
        Row("t.py::long_name", "RequestLatency", "rate == 1", "rate=0.5", "failed"),
        Row("t.py::b", "RouteRetention", "min >= 0.9", "set --diego-router-status-url", "not measured"),
        Row("t.py::c", "Op", "count >= 1", "no command to kill bbs", "skipped")])
    assert header.split() == ["test", "metric", "threshold", "observed"]
    assert ok.endswith("✓") and bad.endswith("✗") and unmeasured.endswith("–") and skipped.endswith("s")
    assert ok.index("Op") == bad.index("RequestLatency") == header.index("metric")


def test_table_title_counts_each_outcome_apart():
    rows = [Row("t", "m", "x", "o", outcome) for outcome in
            ("passed", "passed", "failed", "not measured", "skipped", "skipped")]
    assert title(rows) == "Diego SLOs: 2 passed, 1 failed, 1 not measured, 2 skipped"
    assert title(rows[:2]) == "Diego SLOs: 2 passed, 0 failed"


def test_a_gauge_verdict_says_how_many_samples_it_rests_on():
    from pytest_diego import slo
    from pytest_diego.measure.metrics import Gauge
    from pytest_diego.report.terminal import slo_rows

    loop = Gauge("s", [(1.0, 0.02), (31.0, 0.03)])
    verdict = slo.evaluate(loop, "max < 10s", "ConvergenceLRPDuration")
    [row] = slo_rows({"t.py::t": {"verdicts": [verdict.to_dict()]}})
    assert row.observed == "max=30ms (2 samples)"
