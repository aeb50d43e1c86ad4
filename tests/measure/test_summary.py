"""Per-metric summaries for results tables."""

import json

import pytest

from pytest_diego.measure import Gauge, Rate, Trend, summarize


def test_trend_summary():
    t = Trend()
    for i in range(100):
        t.record(1e9 + i, (i + 1) / 1000, "ok" if i else "Timeout")
    s = summarize(t)
    assert (s["count"], s["ok"], s["failures"]) == (100, 99, {"Timeout": 1})
    assert s["p(99)"] == pytest.approx(0.099, rel=0.01) and s["max"] == pytest.approx(0.1)
    json.dumps(s)


def test_gauge_and_rate_summaries():
    g = Gauge("s", [(1.0, 3.0), (2.0, 1.0), (3.0, 2.0)])
    assert summarize(g) == {"kind": "gauge", "unit": "s", "count": 3, "last": 2.0, "min": 1.0,
                            "avg": 2.0, "med": 2.0, "max": 3.0}
    late_first = Gauge("", [(5.0, 7.0), (1.0, 3.0)])  # merged shards: the newest sample is last
    assert summarize(late_first)["last"] == 7.0
    assert summarize(Gauge())["count"] == 0 and summarize(Gauge())["max"] is None
    r = Rate()
    assert summarize(r)["rate"] is None
