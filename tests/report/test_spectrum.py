"""The percentile spectrum results.json carries per Trend: the histogram's percentiles at points
evenly spaced in log(1/(1-q)), within the histogram's stated error of numpy, the same merged as
from one process."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure.histogram import (
    RELATIVE_ERROR,
    SPECTRUM_DECADES,
    SPECTRUM_STEPS,
    Histogram,
    spectrum,
)
from pytest_diego.measure.measurements import Measurements
from pytest_diego.report.results import summarize_metric

latencies = st.lists(st.floats(min_value=1e-6, max_value=60.0), min_size=1, max_size=400)
T = 1_700_000_000.0


def histogram_of(values: list[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.record(v)
    return h


@given(latencies)
def test_points_are_the_histograms_percentiles_within_its_stated_error(values: list[float]) -> None:
    h = histogram_of(values)
    points = spectrum(h)
    qs = [q for q, _ in points]
    assert qs[0] == 0 and points[0][1] == h.min
    assert qs == sorted(set(qs)) and qs[-1] <= 99.999
    assert len(points) <= SPECTRUM_DECADES * SPECTRUM_STEPS + 1
    assert [v for _, v in points] == sorted(v for _, v in points)
    for q, seconds in points:
        assert seconds == h.percentile(q)
        exact = float(np.percentile(np.array(values), q, method="inverted_cdf"))
        assert seconds == pytest.approx(exact, rel=RELATIVE_ERROR)


@given(latencies)
def test_it_stops_at_the_max_or_at_p99_999(values: list[float]) -> None:
    h = histogram_of(values)
    last_q, last = spectrum(h)[-1]
    assert last == h.max or last_q == pytest.approx(99.999)
    if last_q < 99.99:  # stopped early: no sample lies beyond this rank
        assert math.ceil(last_q / 100 * h.count) >= h.count


def test_steps_are_even_in_log_one_over_one_minus_q() -> None:
    h = histogram_of([0.001 * i for i in range(1, 200_001)])
    points = spectrum(h)
    assert len(points) == SPECTRUM_DECADES * SPECTRUM_STEPS + 1
    x = [math.log10(100 / (100 - q)) for q, _ in points]
    assert x == pytest.approx([i / SPECTRUM_STEPS for i in range(len(points))], abs=1e-4)  # q to 6 places
    assert [q for q, _ in points][::SPECTRUM_STEPS] == [0, 90, 99, 99.9, 99.99, 99.999]


def test_empty_histogram_has_no_spectrum() -> None:
    assert spectrum(Histogram()) == []


def test_merged_workers_give_the_spectrum_of_one_process() -> None:
    one, a, b = Measurements(), Measurements(), Measurements()
    for i in range(5000):
        seconds = 0.0005 * (i % 997 + 1) * (30 if i % 1000 == 0 else 1)
        one.trend("RequestLatency").record(T + i * 0.01, seconds)
        (a if i % 3 else b).trend("RequestLatency").record(T + i * 0.01, seconds)
    merged = Measurements.merged([a.to_dict(), b.to_dict()])
    expected = spectrum(one.trend("RequestLatency").histogram)
    assert spectrum(merged.trend("RequestLatency").histogram) == expected


def test_trend_summaries_carry_it_and_rates_do_not() -> None:
    m = Measurements()
    for i in range(100):
        m.trend("RequestLatency.DesireTask").record(T + i, 0.001 * (i + 1))
        m.rate("TaskSucceeded").add(T + i, "ok")
    summary = summarize_metric(m.trend("RequestLatency.DesireTask"))
    assert summary["spectrum"] == spectrum(m.trend("RequestLatency.DesireTask").histogram)
    last_q, last = summary["spectrum"][-1]
    assert 99 < last_q < 99.9 and last == summary["max"]  # 100 samples: p99 is rank 99, not the last
    assert json.loads(json.dumps(summary))["spectrum"] == summary["spectrum"]
    assert "spectrum" not in summarize_metric(m.rate("TaskSucceeded"))
