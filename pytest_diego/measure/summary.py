"""One JSON-able summary per metric, the numbers a results table shows (k6's trend stats)."""

from __future__ import annotations

import math
import statistics
from typing import Any

from pytest_diego.measure.metrics import Gauge, Rate, Trend

TREND_PERCENTILES = (50, 90, 95, 99, 99.9)


def summarize(metric: Trend | Rate | Gauge) -> dict[str, Any]:
    """Count, outcomes and spread of one metric; latencies and durations in seconds."""
    if isinstance(metric, Gauge):
        values = sorted(metric.values())
        if not values:
            return {"kind": "gauge", "unit": metric.unit, "count": 0}
        return {"kind": "gauge", "unit": metric.unit, "count": len(values),
                "value": metric.samples[-1][1], "min": values[0], "avg": statistics.fmean(values),
                "med": percentile_of_values(values, 50), "p95": percentile_of_values(values, 95),
                "max": values[-1]}
    out: dict[str, Any] = {"kind": metric.kind, "count": metric.count, "ok": metric.ok,
                           "rate": None if math.isnan(metric.rate) else metric.rate,
                           "failures": dict(sorted(metric.failures.items()))}
    if isinstance(metric, Trend) and metric.histogram.count:
        h = metric.histogram
        out.update({"min": h.min, "avg": h.mean, "med": h.percentile(50), "max": h.max})
        out.update({f"p({p:g})": h.percentile(p) for p in TREND_PERCENTILES})
    return out


def percentile_of_values(ordered: list[float], p: float) -> float:
    """Inverted-CDF percentile of sorted values (the histogram's definition)."""
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]
