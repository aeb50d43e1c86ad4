"""A scenario's verdict: every shard's measurements merged, then judged once, by the run's owner.

A shard is what one process sends when its part of a scenario is over (plain JSON data)::

    {"worker", "index", "count", "thresholds": {metric: [expressions]},
     "measurements": Measurements.to_dict(), "faults": [...], "error": str | None, "skipped": bool}

The owner merges the shards' measurements (``Measurements.merged``: the same percentiles one
process that saw every sample would give), judges the thresholds with ``slo.evaluate_all`` and
the baseline, and sends the same ``Judgement`` back to every shard, so every worker reaches the
same verdict. A scenario every shard skipped has its thresholds *skipped*, never failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_diego import slo
from pytest_diego.baseline import Baseline
from pytest_diego.measure.measurements import Measurements
from pytest_diego.slo import NOT_MEASURED, Verdict


@dataclass
class Judgement:
    """The verdicts of one scenario and what went wrong with its shards."""

    verdicts: list[Verdict]
    problems: list[str] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    strict: bool = False  # --diego-strict: a not-measured SLO fails the scenario
    merged: Measurements | None = None  # on the owner only; not sent back to the shards

    @property
    def not_measured(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome == NOT_MEASURED]

    @property
    def failed(self) -> bool:
        return (bool(self.problems) or any(v.failed for v in self.verdicts)
                or (self.strict and bool(self.not_measured)))

    def message(self) -> str:
        """Why the scenario failed: each failed threshold and each problem, a line each."""
        lines = [v.line() for v in self.verdicts if v.failed]
        if self.strict:
            lines += [f"{v.line()} (--diego-strict)" for v in self.not_measured]
        return "\n".join(lines + self.problems)

    def warning(self) -> str:
        """The visible warning of a scenario that passed with thresholds not measured."""
        return "\n".join(["pytest-diego: thresholds not measured on this target:"]
                         + [f"  {v.metric} {v.expression}: {v.detail}" for v in self.not_measured])

    def to_dict(self) -> dict[str, Any]:
        return {"verdicts": [v.to_dict() for v in self.verdicts], "problems": list(self.problems),
                "faults": list(self.faults), "strict": self.strict}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Judgement:
        return cls([Verdict.from_dict(v) for v in data["verdicts"]], list(data["problems"]),
                   list(data["faults"]), bool(data["strict"]))


def skipped_verdicts(thresholds: Mapping[str, Sequence[str]], reason: str) -> list[Verdict]:
    """Every threshold of a scenario that did not run, as *skipped*."""
    verdicts = []
    for metric, expressions in thresholds.items():
        for expression in expressions:
            threshold = slo.parse(expression)
            verdicts.append(Verdict(metric, threshold.text, slo.SKIPPED, detail=reason, note=threshold.note))
    return verdicts


def judge_shards(nodeid: str, shards: Mapping[str, Mapping[str, Any]], problems: Sequence[str] = (),
                 baseline: Baseline | None = None, strict: bool = False) -> Judgement:
    """Merge every shard and judge its thresholds (and the baseline) on the merged measurements."""
    thresholds: dict[str, list[str]] = next((dict(s["thresholds"]) for s in shards.values()), {})
    faults = sorted((f for s in shards.values() for f in s.get("faults", [])), key=lambda f: f["t"])
    if shards and all(s.get("skipped") for s in shards.values()):
        reason = next(str(s.get("error") or "skipped") for s in shards.values())
        return Judgement(skipped_verdicts(thresholds, reason), [], faults, strict, Measurements())
    merged = Measurements.merged(s["measurements"] for s in shards.values() if s.get("measurements"))
    verdicts = slo.evaluate_all(merged, thresholds)
    if baseline is not None:
        verdicts += baseline.compare(nodeid, merged)
    found = list(problems)
    for worker, shard in sorted(shards.items()):
        if shard.get("error"):
            verb = "skipped" if shard.get("skipped") else "failed"
            found.append(f"worker {worker} {verb}: {shard['error']}")
    return Judgement(verdicts, found, faults, strict, merged)
