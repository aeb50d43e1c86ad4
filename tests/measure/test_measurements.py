"""Measurements as plain data: merge order independence, JSON round trip, the request observer."""

import json
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.measure import Measurements, RequestRecorder

T0 = 1_700_000_000.0
ROUTES = ["DesireTask", "DesireDesiredLRP", "ActualLRPs"]

requests = st.lists(st.tuples(st.sampled_from(ROUTES), st.floats(0, 100), st.floats(1e-4, 2),
                              st.sampled_from(["ok", "ok", "ResourceExists", "Timeout"])), max_size=30)


def shard(reqs, worker):
    m = Measurements()
    recorder = RequestRecorder(m)
    for route, at, duration, outcome in reqs:
        recorder(route, T0 + at, duration, outcome)
    m.gauge("LRPsRunning").add(T0 + worker, float(worker))
    m.set_check("tasks").acknowledge(f"task-{worker}")
    m.timelines.add_task(f"task-{worker}", "desired", T0 + worker)
    return m


def canonical(m):
    return json.dumps(m.to_dict(), sort_keys=True)


@given(st.lists(requests, min_size=1, max_size=4), st.randoms())
def test_merging_worker_shards_is_order_independent(per_worker, rnd):
    dicts = [json.loads(json.dumps(shard(reqs, w).to_dict())) for w, reqs in enumerate(per_worker)]
    shuffled = list(dicts)
    rnd.shuffle(shuffled)
    assert canonical(Measurements.merged(dicts)) == canonical(Measurements.merged(shuffled))


@given(st.lists(requests, min_size=1, max_size=4))
def test_merged_request_stats_equal_one_process_seeing_every_request(per_worker):
    merged = Measurements.merged(shard(reqs, 0).to_dict() for reqs in per_worker)
    single = Measurements()
    recorder = RequestRecorder(single)
    for reqs in per_worker:
        for route, at, duration, outcome in reqs:
            recorder(route, T0 + at, duration, outcome)
    for name, metric in single.metrics.items():
        assert merged.metric(name).histogram == metric.histogram
        assert (merged.metric(name).ok, merged.metric(name).count) == (metric.ok, metric.count)


def test_recorder_keeps_every_request_and_diego_route_names():
    m = Measurements()
    recorder = RequestRecorder(m)
    threads = [threading.Thread(target=lambda: [recorder("DesireTask", T0, 0.01, "ok") for _ in range(500)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder("DesireDesiredLRP", T0, 0.2, "ResourceExists")
    assert m.metric("RequestLatency").count == 2001
    assert m.metric("RequestLatency.DesireTask").count == 2000
    assert m.metric("RequestLatency.DesireDesiredLRP").failures == {"ResourceExists": 1}
    assert m.metric("RequestLatency").rate == pytest.approx(2000 / 2001)


def test_a_metric_keeps_its_kind():
    m = Measurements()
    m.trend("RequestLatency")
    with pytest.raises(TypeError, match="is a trend, not a gauge"):
        m.gauge("RequestLatency")


def test_mismatched_schema_is_a_clear_error():
    with pytest.raises(ValueError, match="same pytest-diego version"):
        Measurements.from_dict({"schema": 99})
