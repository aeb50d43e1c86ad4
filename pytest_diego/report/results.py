"""``results.json``: what a run measured and how each scenario was judged (schema version 1).

Shape::

    {"schema": 1, "started_at", "finished_at", "interrupted": bool,
     "environment": {"target": {...}, "cells": [...], "versions": {...}, "scale", "workers"},
     "tests": {"<nodeid>": {"outcome": "passed|failed|skipped|error", "reasons": [...],
                            "workers": {"gw0": "passed", ...},
                            "verdicts": [{"metric", "expression", "outcome", "passed", "observed",
                                          "value", "detail", "source", "note", "samples"}],
                            "metrics": {"<name>": <summary>}, "timelines": {...},
                            "series": {"<gauge>": [[t, value], ...]}, "faults": [...],
                            "unmeasured": {"<metric>": "why"}}}}

Metric summaries are ``measure.summary``'s (its docstring lists the keys; a Trend's carries its
percentile ``spectrum``); a gauge's samples go to ``series``. A verdict is
``slo.Verdict.to_dict()``: ``outcome`` is passed, failed, not measured or skipped (``passed`` is
kept for readers of the two-outcome form), and the test's
``unmeasured`` maps each metric the target could not measure to why. Written atomically
(temporary file, then ``os.replace``), so a reader never sees half a file, even after Ctrl-C.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metrics import Gauge
from pytest_diego.measure.summary import summarize as summarize_metric
from pytest_diego.report.windows import windows

SCHEMA = 1


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
            "timelines": measurements.timelines.to_dict(), "unmeasured": dict(measurements.unmeasured)}


def write_results(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as ``path`` atomically."""
    write_atomic(path, json.dumps({"schema": SCHEMA, **document}, indent=1))
