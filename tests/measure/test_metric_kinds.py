"""Trend, Rate and Gauge: time buckets, bounded windows, merging and plain-data round trips."""

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure.metrics import WIDTHS, Gauge, Rate, TimeBuckets, Trend

T0 = 1_700_000_000.0

events = st.lists(st.tuples(st.floats(0, 600), st.floats(1e-5, 10), st.sampled_from(["ok", "ok", "Timeout"])),
                  min_size=1, max_size=60)


def trend_of(evs, max_windows=360):
    t = Trend(max_windows=max_windows)
    for at, seconds, outcome in evs:
        t.record(T0 + at, seconds, outcome)
    return t


def canonical(metric):
    return json.dumps(metric.to_dict(), sort_keys=True)


@given(events, events, events)
def test_trend_merge_is_associative_and_commutative(a, b, c):
    left = trend_of(a).merge(trend_of(b)).merge(trend_of(c))
    right = trend_of(c).merge(trend_of(b).merge(trend_of(a)))
    assert canonical(left) == canonical(right) == canonical(trend_of(a + b + c))


@given(events)
def test_trend_round_trips_through_json(evs):
    t = trend_of(evs, max_windows=16)
    again = Trend.from_dict(json.loads(json.dumps(t.to_dict())))
    assert canonical(again) == canonical(t)
    assert again.percentile(99) == t.percentile(99)


def test_outcomes_give_rate_and_failures_by_type():
    t = trend_of([(0, 0.1, "ok"), (1, 0.2, "ok"), (2, 5.0, "Timeout"), (3, 0.1, "ResourceExists")])
    assert (t.ok, t.count, t.rate) == (2, 4, 0.5)
    assert t.failures == {"Timeout": 1, "ResourceExists": 1}
    assert t.percentile(100) == pytest.approx(5.0)


def test_buckets_coarsen_to_stay_bounded_and_keep_every_sample():
    t = Trend(max_windows=100)
    for second in range(3600):
        t.record(T0 + second, 0.01)
    assert len(t.time_buckets.buckets) <= 100
    assert t.time_buckets.width == 60
    assert sum(b.total for b in t.time_buckets.buckets.values()) == 3600


def test_merging_different_widths_coarsens_to_the_wider():
    fine, coarse = Trend(), Trend()
    fine.record(T0 + 1, 0.5)
    coarse.time_buckets.coarsen_to(60)
    coarse.record(T0 + 2, 0.7)
    fine.merge(coarse)
    assert fine.time_buckets.width == 60
    assert sum(b.view().count for b in fine.time_buckets.buckets.values()) == 2


def test_sliding_windows_find_the_bad_minute():
    t = Trend()
    for second in range(300):
        t.record(T0 + second, 2.0 if 120 <= second < 130 else 0.01)
    worst = max(w.histogram.percentile(99) for w in t.windows(60))
    assert worst == pytest.approx(2.0, rel=0.01)
    clean = [w for w in t.windows(60) if w.start >= T0 + 130 or w.start + 60 <= T0 + 120]
    assert clean and all(w.histogram.percentile(99) < 0.02 for w in clean)
    assert all(w.total == 60 for w in t.windows(60))


def test_window_must_be_a_multiple_of_the_bucket_width():
    t = Trend()
    t.time_buckets.coarsen_to(60)
    t.record(T0, 0.1)
    with pytest.raises(ValueError, match="buckets are 1m wide"):
        list(t.windows(90))


def test_bucket_width_must_be_one_of_the_ladder():
    with pytest.raises(ValueError, match="not one of"):
        TimeBuckets(width=7)
    assert all(b % a == 0 for a, b in itertools.pairwise(WIDTHS))


def test_rate_windows_and_merge():
    r = Rate()
    for second in range(120):
        r.add(T0 + second, "ok" if second % 10 else "late")
    other = Rate()
    other.add(T0 + 500, "dropped")
    r.merge(other)
    assert (r.ok, r.total, r.failures) == (108, 121, {"late": 12, "dropped": 1})
    windows = list(r.windows(60))
    assert min(w.rate for w in windows if w.start + 60 <= T0 + 500) == pytest.approx(0.9)
    assert windows[-1].rate == 0.0 and windows[-1].total == 1
    with pytest.raises(TypeError):
        r.merge(Trend())


def test_gauge_windows_and_merge():
    g = Gauge(unit="s")
    for second in range(0, 100, 10):
        g.add(T0 + second, float(second))
    g.merge(Gauge("s", [(T0 + 5, 99.0)]))
    assert g.count == 11 and g.samples[1] == (T0 + 5, 99.0)
    windows = list(g.windows(30))
    assert windows[0][1] == [0.0, 99.0, 10.0, 20.0]
    assert Gauge.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_a_long_run_stays_under_a_megabyte_with_its_window_buckets():
    import random
    import tracemalloc

    rnd = random.Random(3)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t = Trend()
    for second in range(0, 3600 * 6, 30):  # six hours of samples, ~26k of them
        for _ in range(30):
            t.record(T0 + second + rnd.random() * 30, rnd.lognormvariate(-3, 1.5))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(t.time_buckets.buckets) <= 360
    assert used < 1_000_000, f"{used} bytes"


def test_late_samples_thaw_frozen_buckets():
    t = Trend()
    t.record(T0, 0.1)
    t.record(T0 + 10, 0.2)
    assert t.time_buckets.buckets[int(T0)].frozen is not None
    t.record(T0 + 0.5, 0.3)  # arrives late
    window = next(t.windows(5))
    assert window.total == 2 and window.histogram.percentile(100) == pytest.approx(0.3)


@given(events, st.sampled_from([1, 5, 30]))
def test_every_sliding_window_equals_a_histogram_of_exactly_its_samples(evs, seconds):
    from pytest_diego.measure.histogram import Histogram

    t = trend_of(evs)
    windows = list(t.windows(seconds))
    assert windows
    span_start = min(int(T0 + at) for at, _, _ in evs)
    span_end = max(int(T0 + at) for at, _, _ in evs)
    for w in windows:
        inside = [(s, o) for at, s, o in evs if w.start <= int(T0 + at) < w.start + w.width]
        expected = Histogram()
        for s, _ in inside:
            expected.record(s)
        assert w.histogram == expected
        assert (w.ok, w.total) == (sum(o == "ok" for _, o in inside), len(inside))
    if span_end - span_start + 1 >= seconds:
        assert all(w.width == seconds for w in windows)
        assert all(w.start + seconds <= span_end + 1 for w in windows)
