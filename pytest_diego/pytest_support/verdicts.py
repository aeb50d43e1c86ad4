"""Judging a scenario: its SLOs (markers + overrides) and the baseline, on merged measurements."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_diego import slo
from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metrics import Gauge, Trend
from pytest_diego.report.results import summarize_metric


@dataclass(frozen=True)
class Verdict:
    """One threshold judged: ``observed`` is what the expression's aggregation measured."""

    metric: str
    expression: str
    observed: str
    passed: bool
    source: str = "slo"  # "slo" or "baseline"

    def line(self) -> str:
        mark = "passed" if self.passed else "failed"
        kind = "SLO" if self.source == "slo" else "Baseline"
        return f"{kind} {mark}: {self.metric} {self.expression} — observed {self.observed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_expression(metric: str, expression: str, where: str) -> None:
    """Raise a usage error when an SLO expression does not parse."""
    try:
        slo.parse(expression)
    except slo.SLOSyntaxError as exc:
        raise pytest.UsageError(f"{where}: bad SLO for {metric}: {exc}") from None


def judge(measurements: Measurements, thresholds: dict[str, list[str]]) -> list[Verdict]:
    """Every threshold judged on the merged measurements, in declaration order."""
    verdicts = []
    for metric, expressions in thresholds.items():
        for expression in expressions:
            v = slo.evaluate(measurements.metric(metric), expression, metric)
            observed = f"{v.observed_text} ({v.detail})" if v.detail and not v.passed else v.observed_text
            verdicts.append(Verdict(metric, expression, observed, v.passed))
    return verdicts


# -- baseline -----------------------------------------------------------------------------------

class Baseline:
    """A previous results.json; a metric fails when its p99 grew, or its rate fell, beyond tolerance."""

    def __init__(self, path: Path, tolerance: float) -> None:
        try:
            data = json.loads(path.read_text())
            self.tests: dict[str, Any] = data["tests"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise pytest.UsageError(
                f"--diego-baseline {path}: not a pytest-diego results.json ({exc})") from None
        self.tolerance = tolerance

    def compare(self, nodeid: str, measurements: Measurements) -> list[Verdict]:
        before = self.tests.get(nodeid, {}).get("metrics", {})
        verdicts = []
        for name in sorted(before):
            metric = measurements.metric(name)
            if metric is None or isinstance(metric, Gauge):
                continue
            now = summarize_metric(metric)
            old = before[name]
            if isinstance(metric, Trend) and old.get("p(99)") is not None and now.get("p(99)") is not None:
                limit = old["p(99)"] * (1 + self.tolerance)
                verdicts.append(Verdict(name, f"p(99) <= {_fmt(limit)} (baseline {_fmt(old['p(99)'])} "
                                        f"+{self.tolerance:.0%})", f"p(99)={_fmt(now['p(99)'])}",
                                        now["p(99)"] <= limit, "baseline"))
            if old.get("rate") is not None and now.get("rate") is not None:
                floor = old["rate"] * (1 - self.tolerance)
                verdicts.append(Verdict(name, f"rate >= {floor:.4g} (baseline {old['rate']:.4g} "
                                        f"-{self.tolerance:.0%})", f"rate={now['rate']:.4g}",
                                        now["rate"] >= floor, "baseline"))
        return verdicts


def _fmt(seconds: float) -> str:
    return slo.format_duration(seconds)
