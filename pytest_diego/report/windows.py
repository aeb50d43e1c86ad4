"""Per-window numbers for the report's over-time plots (results.json ``tests[id]["windows"]``).

Every Trend and Rate keeps epoch-aligned time buckets (``measure.metrics.TimeBuckets``); this
turns each metric's buckets into columns a plot reads directly::

    {"RequestLatency.DesireTask": {"width": 1, "start": [t, ...], "total": [n, ...],
                                   "ok": [n, ...], "p50": [s, ...], "p99": [s, ...]}, ...}

``start`` is the window's start (Unix seconds), ``width`` its length in seconds, ``p50`` and
``p99`` seconds (``None`` for a Rate, or a window without latencies). Windows that saw nothing
are left out. A run keeps at most ``MAX_WINDOWS`` buckets per metric, so the field stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_diego.measure.metrics import Rate, Trend

if TYPE_CHECKING:
    from pytest_diego.measure.measurements import Measurements


def metric_windows(metric: Rate) -> dict[str, Any]:
    """One Trend's or Rate's buckets as columns (see the module docstring)."""
    buckets = metric.time_buckets
    columns: dict[str, Any] = {"width": buckets.width, "start": [], "total": [], "ok": [],
                               "p50": [], "p99": []}
    for key in sorted(buckets.buckets):
        bucket = buckets.buckets[key]
        if not bucket.total:
            continue
        histogram = bucket.view() if isinstance(metric, Trend) else None
        latencies = histogram if histogram is not None and histogram.count > 0 else None
        columns["start"].append(key * buckets.width)
        columns["total"].append(bucket.total)
        columns["ok"].append(bucket.ok)
        columns["p50"].append(latencies.percentile(50) if latencies is not None else None)
        columns["p99"].append(latencies.percentile(99) if latencies is not None else None)
    return columns


def windows(measurements: Measurements) -> dict[str, dict[str, Any]]:
    """Columns for every recorded Trend and Rate of merged ``measurements``, by metric name."""
    return {name: metric_windows(metric) for name, metric in sorted(measurements.metrics.items())
            if isinstance(metric, Rate) and metric.total}
