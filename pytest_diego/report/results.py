"""``results.json``: what a run measured and how each scenario was judged (schema version 1).

Shape::

    {"schema": 1, "started_at", "finished_at", "interrupted": bool,
     "environment": {"target": {...}, "cells": [...], "versions": {...}, "scale", "workers"},
     "tests": {"<nodeid>": {"outcome": "passed|failed|skipped|error", "reasons": [...],
                            "workers": {"gw0": "passed", ...},
                            "verdicts": [{"metric", "expression", "observed", "passed", "source"}],
                            "metrics": {"<name>": <summary>}, "timelines": {...},
                            "series": {"<gauge>": [[t, value], ...]}, "faults": [...]}}}

A Trend summary has ``count``, ``ok``, ``rate``, ``failures`` and, in seconds, ``min``,
``med``, ``avg``, ``p(90)``, ``p(95)``, ``p(99)``, ``p(99.9)``, ``max``; a Rate summary has
``count``, ``ok``, ``rate``, ``failures``; a Gauge summary has ``count``, ``unit``, ``min``,
``max``, ``last`` (its samples go to ``series``). Written atomically (temporary file, then
``os.replace``), so a reader never sees half a file, even after Ctrl-C.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metrics import Gauge, Rate, Trend
from pytest_diego.report.windows import windows

SCHEMA = 1
PERCENTILES = (("med", 50.0), ("p(90)", 90.0), ("p(95)", 95.0), ("p(99)", 99.0), ("p(99.9)", 99.9))


def summarize_metric(metric: Trend | Rate | Gauge) -> dict[str, Any]:
    """The numbers of one metric that results.json and the baseline comparison use."""
    if isinstance(metric, Gauge):
        values = metric.values()
        return {"kind": "gauge", "unit": metric.unit, "count": len(values),
                "min": min(values) if values else None, "max": max(values) if values else None,
                "last": values[-1] if values else None}
    summary: dict[str, Any] = {"kind": metric.kind, "count": metric.total, "ok": metric.ok,
                               "rate": _number(metric.rate), "failures": dict(metric.failures)}
    if isinstance(metric, Trend):
        h = metric.histogram
        empty = h.count == 0
        summary["min"] = None if empty else h.min
        for key, p in PERCENTILES:
            summary[key] = None if empty else h.percentile(p)
        summary["avg"] = None if empty else h.mean
        summary["max"] = None if empty else h.max
    return summary


def summarize(measurements: Measurements) -> dict[str, Any]:
    """``metrics``, ``series`` (gauge samples), ``windows`` (per-window counts and percentiles,
    for the report's over-time plots) and ``timelines`` of merged measurements."""
    metrics = {}
    series = {}
    for name in measurements.names():
        metric = measurements.metric(name)
        if metric is None:
            continue
        metrics[name] = summarize_metric(metric)
        if isinstance(metric, Gauge):
            series[name] = [[t, v] for t, v in sorted(metric.samples)]
    return {"metrics": metrics, "series": series, "windows": windows(measurements),
            "timelines": measurements.timelines.to_dict()}


def write_results(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as ``path`` atomically."""
    write_atomic(path, json.dumps({"schema": SCHEMA, **document}, indent=1))


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value

