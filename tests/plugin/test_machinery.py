"""The plugin's machinery without pytest runs: shares, overrides, barriers, the table."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure.measurements import Measurements
from pytest_diego.pytest_support.overrides import SLOOverrides, load_overrides
from pytest_diego.pytest_support.rundir import PartnerLost, RunDir
from pytest_diego.pytest_support.workload_api import Workload
from pytest_diego.report.terminal import format_table


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


def test_barrier_returns_the_same_participants_to_everyone_and_skips_the_dead(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.mark_dead("gw2", "node down: Not properly terminated")
    seen: dict[str, list[str]] = {}

    def arrive(me: str) -> None:
        seen[me] = run_dir.barrier("t.py::t", "join", me, ["gw0", "gw1", "gw2"], timeout=30)

    threads = [threading.Thread(target=arrive, args=(w,)) for w in ("gw0", "gw1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == {"gw0": ["gw0", "gw1"], "gw1": ["gw0", "gw1"]}


def test_a_partner_that_never_arrives_is_named_after_the_timeout(tmp_path):
    with pytest.raises(PartnerLost, match=r"worker gw1 did not reach the start of t.py::t within 0.2s"):
        RunDir(tmp_path).barrier("t.py::t", "start", "gw0", ["gw0", "gw1"], timeout=0.2)


def test_a_dead_partner_without_a_shard_is_reported_with_its_reason(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.write_shard("t.py::t", "gw0", {"measurements": None})
    run_dir.mark_dead("gw1", "node down: Not properly terminated")
    with pytest.raises(PartnerLost, match="worker gw1 died: node down: Not properly terminated"):
        run_dir.gather_shards("t.py::t", ["gw0", "gw1"], timeout=30)


def test_run_dir_is_made_only_when_used(tmp_path):
    run_dir = RunDir()
    assert run_dir.scenarios() == {} and run_dir.dead() == {} and not run_dir.exists
    path = run_dir.path
    assert path.is_dir()
    run_dir.remove()
    assert not path.exists()


def test_table_is_aligned_and_marks_each_verdict():
    header, ok, bad = format_table([("t.py::a", "Op", "p(99) < 1s", "p(99)=3ms", True),
                                    ("t.py::long_name", "RequestLatency", "rate == 1", "rate=0.5", False)])
    assert header.split() == ["test", "metric", "threshold", "observed"]
    assert ok.endswith("✓") and bad.endswith("✗")
    assert ok.index("Op") == bad.index("RequestLatency") == header.index("metric")
