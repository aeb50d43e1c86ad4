"""Open and closed load models: schedules, late and dropped starts, sharding, labelling."""

import itertools
import math
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.bbs.errors import BBSError
from pytest_diego.measure import Measurements
from pytest_diego.workload import ClosedModel, OpenModel, arrival_offsets


@given(st.floats(0.5, 500), st.floats(0.1, 20))
def test_constant_rate_schedule_is_evenly_spaced_and_counted_right(rate, duration):
    offsets = list(arrival_offsets(rate, duration))
    assert len(offsets) == math.ceil(rate * duration - 1e-9)
    assert offsets[0] == 0.0 and offsets[-1] < duration
    assert all(b - a == pytest.approx(1 / rate) for a, b in itertools.pairwise(offsets))


@given(st.lists(st.tuples(st.floats(0, 200), st.floats(0.1, 10)), min_size=1, max_size=4), st.floats(0, 200))
def test_ramp_schedule_follows_the_rate_area(ramp, start_rate):
    offsets = list(arrival_offsets(ramp=ramp, start_rate=start_rate))
    area, current = 0.0, start_rate
    for target, seconds in ramp:
        area += (current + target) / 2 * seconds
        current = target
    assert abs(len(offsets) - area) <= 1 + len(ramp)
    assert offsets == sorted(offsets)
    assert all(0 <= t <= sum(s for _, s in ramp) for t in offsets)


def test_schedules_are_bounded():
    with pytest.raises(ValueError, match="more than max_ops=100"):
        OpenModel(rate=1000, duration=1, max_ops=100)
    with pytest.raises(ValueError, match="rate > 0 and duration > 0"):
        OpenModel(rate=10)
    with pytest.raises(ValueError, match="iterations=N or duration"):
        ClosedModel(users=2)


def test_open_model_runs_every_operation_once_and_measures_from_the_intended_start():
    seen, lock = [], threading.Lock()

    def op(i):
        with lock:
            seen.append(i)

    m = Measurements()
    result = OpenModel(rate=100, duration=0.5, workers=4, max_in_flight=50).run(op, m)
    assert sorted(seen) == list(range(50))
    assert (result.model, result.scheduled, result.started, result.dropped) == ("open", 50, 50, 0)
    assert result.ok == 50 and result.unfinished == 0
    assert m.metric("LoadLatency").count == 50 and m.metric("LoadServiceTime").count == 50
    assert m.metric("LoadStarts").total == 50


def test_a_slow_system_makes_starts_late_and_dropped_and_latency_includes_the_wait():
    m = Measurements()
    result = OpenModel(rate=50, duration=1.0, workers=2, max_in_flight=4, drain_timeout=10).run(
        lambda i: time.sleep(0.3), m)
    assert result.scheduled == 50
    assert result.started + result.dropped == 50
    assert result.dropped >= 20  # at most 4 in flight while each op takes 0.3 s
    assert result.late >= 2  # queued behind the two busy workers
    starts = m.metric("LoadStarts")
    assert starts.failures["dropped"] == result.dropped and starts.failures["late"] == result.late
    assert starts.total == 50
    latency, service = m.metric("LoadLatency"), m.metric("LoadServiceTime")
    assert service.percentile(50) >= 0.29
    assert latency.histogram.max >= 0.45  # waited ~0.2 s in the queue, then ran 0.3 s
    assert latency.histogram.max > service.histogram.max


def test_a_dispatcher_woken_late_with_workers_free_is_not_late_but_its_latency_shows_the_delay(monkeypatch):
    """The dispatcher's own wake-up lag (CPython's GIL hand-over under busy observer threads) is
    the harness's, not the system's: no start is ``late``, yet every latency includes the lag."""
    from pytest_diego.workload import runner

    oversleep = 0.03
    real_sleep = time.sleep
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: real_sleep(seconds + oversleep))
    m = Measurements()
    result = OpenModel(rate=20, duration=0.5, workers=4).run(lambda i: None, m)
    monkeypatch.undo()
    assert (result.started, result.late, result.dropped) == (10, 0, 0)
    assert m.metric("LoadStarts").failures == {}
    assert m.metric("LoadLatency").histogram.min >= oversleep * 0.9


def test_failures_are_counted_by_type():
    def op(i):
        if i % 2:
            raise BBSError("ResourceExists", "task already exists")
        if i % 5 == 0:
            raise RuntimeError("boom")

    m = Measurements()
    result = OpenModel(rate=200, duration=0.1, workers=2).run(op, m)
    assert result.failures == {"ResourceExists": 10, "RuntimeError": 2}
    assert m.metric("LoadLatency").failures == result.failures


def test_open_model_shards_take_disjoint_shares_of_one_schedule():
    shares = []
    for worker in range(3):
        seen = []
        OpenModel(rate=200, duration=0.15, workers=2, shard=(worker, 3)).run(seen.append)
        shares.append(set(seen))
    assert set().union(*shares) == set(range(30))
    assert sum(len(s) for s in shares) == 30


def test_closed_model_is_labelled_and_records_service_time_only():
    seen, lock = [], threading.Lock()

    def op(i):
        with lock:
            seen.append(i)

    m = Measurements()
    result = ClosedModel(users=3, iterations=30).run(op, m)
    assert result.model == "closed"
    assert sorted(seen) == list(range(30))
    assert m.metric("LoadServiceTime").count == 30
    assert m.metric("LoadLatency") is None


def test_closed_model_shards_and_time_bound():
    seen = []
    ClosedModel(users=1, iterations=10, shard=(1, 2)).run(seen.append)
    assert seen == [1, 3, 5, 7, 9]
    started = time.monotonic()
    result = ClosedModel(users=2, duration=0.2).run(lambda i: time.sleep(0.01))
    assert time.monotonic() - started < 5
    assert result.started > 0 and result.unfinished == 0


def test_closed_model_by_iterations_is_still_bounded_in_time():
    result = ClosedModel(users=1, iterations=1000, max_duration=0.2, drain_timeout=5).run(
        lambda i: time.sleep(0.05))
    assert 1 <= result.started < 1000
    assert result.unfinished == 0
