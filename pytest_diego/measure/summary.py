"""The one summary of a metric: the numbers results.json, the baseline check and the report read.

A Trend has ``count``, ``ok``, ``rate`` (``None`` when nothing was recorded), ``failures`` by
type and, in seconds, ``min``, ``med``, ``avg``, ``p(90)``, ``p(95)``, ``p(99)``, ``p(99.9)``,
``max`` (``None`` when empty), and ``spectrum``, the percentile spectrum of its histogram
(``[[percentile, seconds], ...]``, see ``histogram.spectrum``). A Rate has ``count``, ``ok``,
``rate``, ``failures``. A Gauge has ``unit``, ``count``, ``min``, ``med``, ``avg``, ``max`` and
``last`` (the newest sample). Percentile keys are written as the SLO grammar writes them
(``p(99)``), so a threshold and the summary it is read from use the same words.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pytest_diego.measure.histogram import spectrum
from pytest_diego.measure.metrics import Gauge, Rate, Trend

TREND_PERCENTILES = (("med", 50.0), ("p(90)", 90.0), ("p(95)", 95.0), ("p(99)", 99.0),
                     ("p(99.9)", 99.9))


def summarize(metric: Trend | Rate | Gauge) -> dict[str, Any]:
    """Count, outcomes and spread of one metric; latencies and durations in seconds."""
    if isinstance(metric, Gauge):
        return _gauge_summary(metric)
    summary: dict[str, Any] = {"kind": metric.kind, "count": metric.count, "ok": metric.ok,
                               "rate": None if math.isnan(metric.rate) else metric.rate,
                               "failures": dict(sorted(metric.failures.items()))}
    if isinstance(metric, Trend):
        h = metric.histogram
        empty = h.count == 0
        summary["min"] = None if empty else h.min
        for key, p in TREND_PERCENTILES:
            summary[key] = None if empty else h.percentile(p)
        summary["avg"] = None if empty else h.mean
        summary["max"] = None if empty else h.max
        summary["spectrum"] = spectrum(h)
    return summary


def _gauge_summary(gauge: Gauge) -> dict[str, Any]:
    values = sorted(gauge.values())
    summary: dict[str, Any] = {"kind": "gauge", "unit": gauge.unit, "count": len(values)}
    if not values:
        return {**summary, "min": None, "med": None, "avg": None, "max": None, "last": None}
    return {**summary, "min": values[0], "med": percentile_of_values(values, 50),
            "avg": statistics.fmean(values), "max": values[-1], "last": max(gauge.samples)[1]}


def percentile_of_values(ordered: list[float], p: float) -> float:
    """Inverted-CDF percentile of sorted values (the histogram's definition)."""
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]
