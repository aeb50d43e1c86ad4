"""Judging SLOs: verdicts, units, windows, kinds, and never passing vacuously."""

import pytest

from pytest_diego import slo
from pytest_diego.measure import Measurements, RequestRecorder
from pytest_diego.measure.metrics import Gauge, Rate, Trend

T0 = 1_700_000_000.0


def trend(latencies, outcome="ok"):
    t = Trend()
    for i, seconds in enumerate(latencies):
        t.record(T0 + i, seconds, outcome)
    return t


def test_verdict_carries_metric_expression_observed_and_result():
    v = slo.evaluate(trend([0.1] * 98 + [0.15, 0.2]), "p(99) < 200ms", "RequestLatency")
    assert v.passed
    assert (v.metric, v.expression) == ("RequestLatency", "p(99) < 200ms")
    assert v.observed == pytest.approx(0.15, rel=0.01)
    assert v.observed_text.startswith("p(99)=150") and v.observed_text.endswith("ms")
    assert str(v) == f"✓ RequestLatency: 'p(99) < 200ms' {v.observed_text}"
    failed = slo.evaluate(trend([0.1] * 98 + [0.15, 0.2]), "max < 200ms", "RequestLatency")
    assert not failed.passed and str(failed).startswith("✗")


@pytest.mark.parametrize(("expression", "passed"), [
    ("med < 0.11", True), ("avg <= 110ms", True), ("min > 99ms", True), ("max < 1", True),
    ("count == 100", True), ("count != 100", False), ("p(50) >= 1s", False), ("rate >= 0.999", True),
])
def test_aggregations_of_a_trend(expression, passed):
    assert slo.evaluate(trend([0.1] * 99 + [0.5]), expression).passed is passed


def test_rate_is_the_share_that_succeeded():
    t = trend([0.1] * 999)
    t.record(T0, 0.1, "Timeout")
    assert slo.evaluate(t, "rate >= 0.999").passed
    assert not slo.evaluate(t, "rate > 99.9%").passed
    r = Rate()
    r.add(T0, "ok")
    r.add(T0, "dropped")
    assert slo.evaluate(r, "rate == 0.5").observed_text == "rate=0.5"


def test_windowed_slo_fails_when_any_minute_is_bad_while_the_whole_run_passes():
    latencies = [0.01] * 600
    latencies[300:305] = [3.0] * 5  # five slow seconds in a ten-minute run
    t = trend(latencies)
    assert slo.evaluate(t, "p(99) < 1s").passed  # the whole run hides them
    v = slo.evaluate(t, "p(99) < 1s over 1m")
    assert not v.passed
    assert v.observed == pytest.approx(3.0, rel=0.01)
    # 600 one-second samples outgrow 360 buckets, so buckets are 5 s: 12 of the 1-minute windows
    # (sliding 5 s at a time) contain the slow seconds
    assert v.detail == "12 of 109 windows failed; the worst began at 2023-11-14 22:17:25 UTC"
    assert slo.evaluate(t, "p(99) < 5s over 1m").passed


def test_windowed_rate():
    t = Trend()
    for second in range(180):
        t.record(T0 + second, 0.01, "Timeout" if 60 <= second < 63 else "ok")
    assert slo.evaluate(t, "rate >= 0.9").passed
    assert not slo.evaluate(t, "rate >= 0.99 over 1m").passed
    assert slo.evaluate(t, "rate >= 0.95 over 1m").passed


def test_window_shorter_than_the_coarsened_buckets_is_reported():
    t = trend([0.1])
    t.time_buckets.coarsen_to(60)
    v = slo.evaluate(t, "p(99) < 1s over 10s")
    assert not v.passed and "multiple of 1m" in v.detail


def test_nothing_recorded_never_passes():
    v = slo.evaluate(Trend(), "p(99) < 1s", "RequestLatency.DesireTask")
    assert not v.passed and "recorded nothing" in v.detail
    assert not slo.evaluate(Trend(), "count == 0").passed
    missing = slo.evaluate_all(Measurements(), {"RequestLatency.DesireTask": "p(99) < 1s"})
    assert not missing[0].passed and "no metric named 'RequestLatency.DesireTask'" in missing[0].detail


def test_gauges_durations_and_counts():
    loop = Gauge(unit="s", samples=[(T0 + i * 30, d) for i, d in enumerate([1.0, 2.0, 12.0, 3.0])])
    assert slo.evaluate(loop, "max < 20s").passed
    v = slo.evaluate(loop, "max < 10s", "ConvergenceLRPDuration")
    assert not v.passed and v.observed_text == "max=12s"
    assert slo.evaluate(loop, "value == 3").passed
    missing = Gauge(samples=[(T0, 5.0), (T0 + 60, 0.0)])
    assert slo.evaluate(missing, "value == 0").passed
    assert not slo.evaluate(missing, "max == 0 over 30s").passed
    wrong_unit = slo.evaluate(missing, "max < 1s", "LRPsMissing")
    assert not wrong_unit.passed and "is a count, not a duration" in wrong_unit.detail


def test_aggregation_that_does_not_fit_the_kind_fails_with_a_reason():
    r = Rate()
    r.add(T0)
    v = slo.evaluate(r, "p(99) < 1s", "RouteAvailability")
    assert not v.passed and "RouteAvailability is a rate: use rate or count" in v.detail


def test_evaluate_all_on_merged_worker_measurements():
    shards = []
    for worker in range(3):
        m = Measurements()
        recorder = RequestRecorder(m)
        for i in range(100):
            recorder("DesireTask", T0 + i, 0.05 if worker else 0.5, "ok")
        shards.append(m.to_dict())
    merged = Measurements.merged(shards)
    verdicts = slo.evaluate_all(merged, {"RequestLatency.DesireTask": ["p(50) < 100ms", "p(99) < 100ms"],
                                         "RequestLatency": "count == 300"})
    assert [v.passed for v in verdicts] == [True, False, True]


@pytest.mark.parametrize(("seconds", "text"), [
    (0.1482, "148.2ms"), (2.5, "2.5s"), (90.0, "90s"), (150.0, "2.5m"), (7200.0, "2h"),
    (2.5e-6, "2.5µs"), (3e-8, "30ns")])
def test_durations_read_in_the_best_unit(seconds, text):
    assert slo.format_duration(seconds) == text


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.floats(1e-5, 100), min_size=1, max_size=200), st.floats(0, 100),
       st.floats(0.5, 1.5).filter(lambda f: abs(f - 1) > 0.02))
def test_percentile_verdicts_agree_with_numpy_away_from_the_error_band(samples, p, factor):
    import numpy as np

    exact = float(np.percentile(np.array(samples), p, method="inverted_cdf"))
    threshold = exact * factor  # at least 2% away from the true value: beyond the stated 1%
    t = trend(samples)
    assert slo.evaluate(t, f"p({p}) < {threshold!r}").passed is (exact < threshold)


def test_a_metric_the_target_cannot_measure_is_not_measured_never_passed():
    m = Measurements()
    m.not_measured(["ConvergenceLRPDuration"], "set --diego-metrics-url")
    [v] = slo.evaluate_all(m, {"ConvergenceLRPDuration": "max < 10s"})
    assert (v.outcome, v.passed, v.failed) == ("not measured", False, False)
    assert v.detail == "set --diego-metrics-url"
    # a recorded value wins over the declaration: it is judged
    m.gauge("ConvergenceLRPDuration", "s").add(T0, 12.0)
    [v] = slo.evaluate_all(m, {"ConvergenceLRPDuration": "max < 10s"})
    assert v.failed and v.observed == 12.0
    # nothing recorded and nothing declared still fails
    [v] = slo.evaluate_all(Measurements(), {"ConvergenceLRPDuration": "max < 10s"})
    assert v.failed and v.observed_text == "no data"


def test_a_note_says_where_the_number_comes_from_and_is_never_judged():
    threshold = slo.parse("max < 9.5s # presence TTL 1.5s + convergence interval 3s + 5s")
    assert (threshold.text, threshold.value, threshold.note) == (
        "max < 9.5s", 9.5, "presence TTL 1.5s + convergence interval 3s + 5s")
    loop = Gauge("s", [(T0, 9.0)])
    v = slo.evaluate(loop, "max < 9.5s # why", "RecoveryDuration")
    assert v.passed and v.expression == "max < 9.5s" and v.note == "why"


def test_verdicts_round_trip_through_results_json_and_read_the_two_outcome_form():
    v = slo.evaluate(trend([0.5]), "p(99) < 100ms # a note", "RequestLatency")
    assert slo.Verdict.from_dict(v.to_dict()) == v
    old = {"metric": "A", "expression": "max < 1s", "observed": "max=2s", "passed": False, "source": "slo"}
    assert slo.Verdict.from_dict(old).outcome == "failed"
    skipped = v.skipped("no command to kill bbs")
    assert (skipped.outcome, skipped.detail, skipped.observed) == ("skipped", "no command to kill bbs", None)
    assert skipped.line().startswith("SLO skipped: RequestLatency p(99) < 100ms")
