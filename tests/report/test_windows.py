"""windows(): per-window counts and percentiles match what was recorded in each window."""

from __future__ import annotations

import json

from pytest_diego.measure.histogram import Histogram
from pytest_diego.measure.measurements import Measurements
from pytest_diego.report.windows import windows

T = 1_700_000_000.0


def test_columns_per_window_match_the_samples_recorded_in_it() -> None:
    m = Measurements()
    trend = m.trend("RequestLatency.DesireTask")
    per_second = {0: [0.010, 0.020, 0.030, 0.900], 1: [], 2: [0.005]}
    for second, latencies in per_second.items():
        for i, seconds in enumerate(latencies):
            trend.record(T + second + i * 0.01, seconds, "ok" if seconds < 0.5 else "Timeout")
    cols = windows(m)["RequestLatency.DesireTask"]
    assert cols["width"] == 1
    assert cols["start"] == [T, T + 2]  # the empty second is left out
    assert cols["total"] == [4, 1]
    assert cols["ok"] == [3, 1]
    expected = Histogram()
    for seconds in per_second[0]:
        expected.record(seconds)
    assert cols["p50"][0] == expected.percentile(50)
    assert cols["p99"][0] == expected.percentile(99) == 0.9
    assert cols["p50"][1] == cols["p99"][1] == 0.005
    json.dumps(cols)  # plain data for results.json


def test_rates_have_counts_but_no_percentiles_and_gauges_are_left_out() -> None:
    m = Measurements()
    for i in range(5):
        m.rate("RouteAvailability").add(T + i * 0.3, "ok" if i != 2 else "HTTP 502")
    m.gauge("LRPsRunning").add(T, 3)
    out = windows(m)
    assert set(out) == {"RouteAvailability"}
    cols = out["RouteAvailability"]
    assert cols["total"] == [4, 1] and cols["ok"] == [3, 1]
    assert cols["p50"] == [None, None] and cols["p99"] == [None, None]


def test_merged_workers_give_the_same_windows_as_one_process() -> None:
    one, a, b = Measurements(), Measurements(), Measurements()
    for i in range(200):
        t, seconds = T + i * 0.05, 0.001 * (i % 37 + 1)
        one.trend("RequestLatency").record(t, seconds)
        (a if i % 2 else b).trend("RequestLatency").record(t, seconds)
    merged = Measurements.merged([a.to_dict(), b.to_dict()])
    assert windows(merged) == windows(one)
