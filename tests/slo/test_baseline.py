"""Comparing with an earlier run: p(99) and loop durations may grow, error rates may grow, by the
tolerance and no more — 0.999 cannot quietly become 0.90."""

from __future__ import annotations

import json

import pytest

from pytest_diego.baseline import Baseline, BaselineError
from pytest_diego.measure import Measurements
from pytest_diego.measure.summary import summarize

T0 = 1_700_000_000.0
TEST = "t.py::t"


def run(latency: float, failures: int, total: int = 1000, loop: float = 1.0) -> Measurements:
    m = Measurements()
    trend = m.trend("RequestLatency")
    for i in range(total):
        trend.record(T0 + i, latency, "Timeout" if i < failures else "ok")
    m.gauge("ConvergenceLRPDuration", "s").add(T0, loop)
    m.gauge("LRPsRunning").add(T0, 5.0)
    return m


def baseline_of(m: Measurements, tolerance: float = 0.1) -> Baseline:
    metrics = {name: summarize(m.metric(name)) for name in m.names()}
    return Baseline({TEST: {"metrics": metrics}}, tolerance)


def outcomes(baseline: Baseline, now: Measurements) -> dict[str, str]:
    return {f"{v.metric} {v.expression.split(' ')[0]}": v.outcome for v in baseline.compare(TEST, now)}


def test_the_same_run_passes_every_comparison():
    m = run(0.01, failures=1)
    assert set(outcomes(baseline_of(m), m).values()) == {"passed"}


def test_an_error_rate_that_grew_fails_even_though_the_rate_barely_moved():
    before, after = run(0.01, failures=1), run(0.01, failures=100)  # 0.999 -> 0.90
    assert outcomes(baseline_of(before), after)["RequestLatency failures"] == "failed"
    # within the tolerance: one failure more in 10 000 is not a regression of 10 %
    assert outcomes(baseline_of(run(0.01, 10, 10_000)), run(0.01, 11, 10_000))["RequestLatency failures"] \
        == "passed"


def test_a_baseline_without_failures_allows_none():
    verdicts = outcomes(baseline_of(run(0.01, failures=0)), run(0.01, failures=1))
    assert verdicts["RequestLatency failures"] == "failed"


def test_p99_and_loop_durations_may_grow_by_the_tolerance_only():
    before = run(0.010, failures=0, loop=1.0)
    assert outcomes(baseline_of(before), run(0.0105, 0, loop=1.05)) == {
        "RequestLatency p(99)": "passed", "RequestLatency failures": "passed",
        "ConvergenceLRPDuration max": "passed"}
    worse = outcomes(baseline_of(before), run(0.020, 0, loop=2.0))
    assert worse["RequestLatency p(99)"] == "failed" and worse["ConvergenceLRPDuration max"] == "failed"
    assert "LRPsRunning max" not in worse  # counts are not compared: more is not always worse


def test_a_file_that_is_not_results_json_is_a_clear_error(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"tests": []}))
    with pytest.raises(BaselineError, match=r"not a pytest-diego results\.json"):
        Baseline.load(bad, 0.1)
