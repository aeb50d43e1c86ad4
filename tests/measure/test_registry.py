"""Every metric an SLO names is defined, with its kind: typos are caught before a run."""

from __future__ import annotations

import pytest

from pytest_diego.measure import Measurements
from pytest_diego.measure.registry import MetricRegistry, UnknownMetric


def test_families_cover_their_members_and_refuse_others():
    registry = MetricRegistry()
    registry.define("RequestLatency.*", "trend", members=["DesireTask", "Tasks"])
    registry.define("ContainerCount.*", "gauge")
    assert registry.lookup("RequestLatency.DesireTask").kind == "trend"
    assert registry.lookup("RequestLatency.DesireTsk") is None
    assert registry.lookup("ContainerCount.cell-3").kind == "gauge"  # any member
    with pytest.raises(UnknownMetric, match=r"did you mean RequestLatency\.DesireTask"):
        registry.require("RequestLatency.DesireTsk")


def test_a_name_keeps_its_kind():
    registry = MetricRegistry()
    registry.define("BurstDuration", "gauge", "s")
    registry.define("BurstDuration", "gauge", "s", "a module imported twice defines it again")
    with pytest.raises(ValueError, match="already defined as a gauge of seconds"):
        registry.define("BurstDuration", "trend")
    with pytest.raises(ValueError, match="kind must be one of trend, rate, gauge"):
        registry.define("X", "histogram")


def test_recording_a_defined_metric_as_another_kind_is_refused_and_gauges_take_its_unit():
    m = Measurements()
    with pytest.raises(TypeError, match="'RequestLatency' is defined as a trend, not a gauge"):
        m.gauge("RequestLatency")
    assert m.gauge("ConvergenceLRPDuration").unit == "s"
