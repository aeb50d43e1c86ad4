"""Comparing a run with an earlier one: a metric fails when it got worse beyond a tolerance.

Read from the earlier run's results.json (the same summaries this run writes,
``measure.summary``), per test and metric:

- a Trend's **p(99)** may grow by at most the tolerance;
- a Trend's or Rate's **error rate** (1 − rate) may grow by at most the tolerance: the run may
  have at most ``ceil(old error rate × (1 + tolerance) × count)`` failures, so 0.999 cannot
  quietly become 0.90, and a baseline without failures allows none;
- a duration Gauge's **max** (loop durations, recovery times) may grow by at most the tolerance.

Count gauges are not compared: whether more is better depends on the metric.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metrics import Gauge, Trend
from pytest_diego.measure.summary import summarize
from pytest_diego.slo import FAILED, PASSED, Verdict, format_duration


class BaselineError(ValueError):
    """The baseline file is not an earlier run's results.json."""


class Baseline:
    """An earlier run's metric summaries, by test node id."""

    def __init__(self, tests: dict[str, Any], tolerance: float) -> None:
        self.tests = tests
        self.tolerance = tolerance

    @classmethod
    def load(cls, path: Path, tolerance: float) -> Baseline:
        try:
            tests = json.loads(path.read_text())["tests"]
            if not isinstance(tests, dict):
                raise TypeError("'tests' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BaselineError(f"{path}: not a pytest-diego results.json ({exc})") from None
        return cls(tests, tolerance)

    def compare(self, nodeid: str, measurements: Measurements) -> list[Verdict]:
        """Every comparable metric of ``nodeid`` in the baseline against ``measurements``."""
        before = self.tests.get(nodeid, {}).get("metrics", {})
        verdicts: list[Verdict] = []
        for name in sorted(before):
            metric = measurements.metric(name)
            old = before[name]
            if metric is None or not isinstance(old, dict) or metric.count == 0:
                continue
            now = summarize(metric)
            if isinstance(metric, Gauge):
                if metric.unit == "s" and _number(old.get("max")) is not None:
                    verdicts.append(self._growth(name, "max", old["max"], now["max"]))
                continue
            if isinstance(metric, Trend) and _number(old.get("p(99)")) is not None:
                verdicts.append(self._growth(name, "p(99)", old["p(99)"], now["p(99)"]))
            if _number(old.get("rate")) is not None:
                verdicts.append(self._errors(name, 1.0 - old["rate"], now))
        return verdicts

    def _growth(self, name: str, key: str, old: float, now: float) -> Verdict:
        limit = old * (1 + self.tolerance)
        expression = (f"{key} <= {format_duration(limit)} (baseline {format_duration(old)} "
                      f"+{self.tolerance:.0%})")
        return Verdict(name, expression, PASSED if now <= limit else FAILED, now,
                       f"{key}={format_duration(now)}", source="baseline")

    def _errors(self, name: str, old_error_rate: float, now: dict[str, Any]) -> Verdict:
        count, failed = now["count"], now["count"] - now["ok"]
        allowed = math.ceil(round(max(0.0, old_error_rate) * (1 + self.tolerance) * count, 9))
        expression = (f"failures <= {allowed} of {count} (baseline error rate {old_error_rate:.4g} "
                      f"+{self.tolerance:.0%})")
        return Verdict(name, expression, PASSED if failed <= allowed else FAILED, float(failed),
                       f"failures={failed} (rate={now['rate']:.4g})", source="baseline")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
