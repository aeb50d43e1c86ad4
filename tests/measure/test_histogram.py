"""The latency histogram: stated error against numpy, mergeability, bounds, serialization."""

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure.histogram import RELATIVE_ERROR, Histogram, bucket_bounds, bucket_index

latencies = st.floats(min_value=1e-6, max_value=3600.0, allow_nan=False, allow_infinity=False)
samples = st.lists(latencies, min_size=1, max_size=300)
percentiles = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


def histogram_of(values):
    h = Histogram()
    for v in values:
        h.record(v)
    return h


@given(samples, percentiles)
def test_percentile_within_stated_error_of_numpy_inverted_cdf(values, p):
    h = histogram_of(values)
    exact = float(np.percentile(np.array(values), p, method="inverted_cdf"))
    assert h.percentile(p) == pytest.approx(exact, rel=RELATIVE_ERROR)


@given(samples)
def test_extremes_are_exact_and_p99_never_exceeds_max(values):
    h = histogram_of(values)
    assert h.percentile(100) == h.max == pytest.approx(max(values), rel=1e-9, abs=1e-9)
    assert h.percentile(0) == h.min == pytest.approx(min(values), rel=1e-9, abs=1e-9)
    assert h.min <= h.percentile(50) <= h.percentile(99) <= h.max


@given(st.lists(samples, min_size=1, max_size=6), st.randoms())
def test_merge_is_order_independent_and_equals_one_histogram_of_every_sample(parts, rnd):
    everything = histogram_of([v for part in parts for v in part])
    shuffled = list(parts)
    rnd.shuffle(shuffled)
    merged = Histogram()
    for part in shuffled:
        merged.merge(histogram_of(part))
    assert merged == everything
    for p in (50, 90, 99, 99.9):
        assert merged.percentile(p) == everything.percentile(p)


@given(samples)
def test_round_trips_through_json(values):
    h = histogram_of(values)
    again = Histogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again == h


@given(st.integers(min_value=0, max_value=10**13))
def test_every_value_falls_inside_its_bucket_and_buckets_are_narrow(ns):
    low, high = bucket_bounds(bucket_index(ns))
    assert low <= ns <= high
    assert high - low + 1 <= max(1, low / 128)


def test_memory_is_bounded_over_the_whole_1us_to_1h_range():
    h = Histogram()
    value = 1e-6
    while value <= 3600:  # every bucket from 1 µs to 1 h
        h.record(value)
        value *= 1.001
    assert 3500 < len(h) < 4200
    assert len(json.dumps(h.to_dict())) < 4_000


def test_long_runs_do_not_grow_the_histogram():
    rnd = random.Random(7)
    h = histogram_of(rnd.lognormvariate(-4, 1) for _ in range(20_000))
    size = len(h)
    for _ in range(20_000):
        h.record(rnd.lognormvariate(-4, 1))
    assert len(h) < size * 1.2


def test_empty_and_out_of_range_percentiles_are_errors():
    with pytest.raises(ValueError, match="nothing was recorded"):
        Histogram().percentile(50)
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        histogram_of([1.0]).percentile(100.5)


def test_corrupt_data_is_rejected():
    data = histogram_of([0.1, 0.2]).to_dict()
    data["count"] = 3
    with pytest.raises(ValueError, match="corrupt"):
        Histogram.from_dict(data)
