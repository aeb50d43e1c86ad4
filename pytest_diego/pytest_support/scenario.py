"""One scenario test in one process: its shard of the load, its measurements, its verdict.

A scenario is a test marked ``scenario``, ``slo`` or ``soak``. Under xdist it runs on every
worker at once: all workers meet at a ``join`` barrier before fixtures are set up (which fixes
who takes part and each one's shard) and at a ``start`` barrier before the test body. At the
end each writes its shard (measurements, faults, outcome) to the run directory, waits for its
partners' shards, merges them all and judges the SLOs on the merged measurements, so every
worker reaches the same verdict. Without xdist the same steps run with one shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_diego.measure.measurements import Measurements
from pytest_diego.nemesis import FaultLog
from pytest_diego.pytest_support.rundir import PartnerLost, RunDir
from pytest_diego.pytest_support.verdicts import Baseline, Verdict, check_expression, judge

SCENARIO_MARKERS = ("scenario", "slo", "soak")


def is_scenario(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in SCENARIO_MARKERS)


def declared_slos(item: pytest.Item) -> dict[str, tuple[str, ...]]:
    """``{metric: expressions}`` from the item's ``slo`` markers, checked; a usage error if bad."""
    slos: dict[str, tuple[str, ...]] = {}
    for mark in item.iter_markers("slo"):
        if not mark.args or not isinstance(mark.args[0], str) or len(mark.args) < 2:
            raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.slo('Metric', 'p(99) < 1s', ...):"
                                    " a metric name, then one or more expressions")
        metric, expressions = mark.args[0], tuple(mark.args[1:])
        for expression in expressions:
            check_expression(metric, str(expression), item.nodeid)
        slos[metric] = slos.get(metric, ()) + tuple(str(e) for e in expressions)
    return slos


@dataclass
class Judgement:
    """A scenario's verdicts on the merged shards, and what went wrong with partners."""

    verdicts: list[Verdict]
    problems: list[str]
    merged: Measurements
    faults: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(not v.passed for v in self.verdicts)

    def message(self) -> str:
        lines = [v.line() for v in self.verdicts if not v.passed] + self.problems
        return "\n".join(lines)


def judge_shards(shards: dict[str, dict[str, Any]], thresholds: dict[str, Sequence[str]],
                 baseline: Baseline | None, nodeid: str) -> Judgement:
    """Merge every shard's measurements and judge the thresholds (and the baseline) on them."""
    merged = Measurements.merged(s["measurements"] for s in shards.values() if s.get("measurements"))
    verdicts = judge(merged, {m: list(e) for m, e in thresholds.items()})
    if baseline is not None:
        verdicts += baseline.compare(nodeid, merged)
    faults = sorted((f for s in shards.values() for f in s.get("faults", [])), key=lambda f: f["t"])
    return Judgement(verdicts, [], merged, faults)


class ScenarioRun:
    """A scenario's life in this process: barriers, its shard, then the verdict."""

    def __init__(self, item: pytest.Item, run_dir: RunDir, me: str, members: list[str],
                 thresholds: dict[str, tuple[str, ...]], timeout: float, baseline: Baseline | None) -> None:
        self.nodeid = item.nodeid
        self.run_dir = run_dir
        self.me = me
        self.members = members
        self.thresholds = thresholds
        self.timeout = timeout
        self.baseline = baseline
        self.measurements = Measurements()
        self.faults = FaultLog()
        self.participants = [me]
        self.finished = False

    @property
    def index(self) -> int:
        return self.participants.index(self.me)

    @property
    def count(self) -> int:
        return len(self.participants)

    @property
    def leader(self) -> bool:
        return self.index == 0

    def join(self) -> None:
        """Meet the partners before setup; fixes who takes part and this process's shard."""
        self.participants = self.run_dir.barrier(self.nodeid, "join", self.me, self.members, self.timeout)

    def start(self) -> None:
        """Meet the partners again right before the test body, so the shards' load starts together."""
        self.run_dir.barrier(self.nodeid, "start", self.me, self.participants, self.timeout)

    def abandon(self, reason: str, skipped: bool) -> None:
        """Setup failed or skipped here: let the partners pass the start barrier and know why."""
        self.run_dir.barrier(self.nodeid, "start", self.me, [self.me], self.timeout)
        self._write_shard(reason, skipped)

    def finish(self, error: str | None = None, skipped: bool = False, wait: bool = True) -> Judgement | None:
        """Write this shard; unless this shard failed, gather all shards and judge them."""
        self._write_shard(error, skipped)
        if error is not None or not wait:
            return None
        problems = []
        try:
            shards = self.run_dir.gather_shards(self.nodeid, self.participants, self.timeout)
        except PartnerLost as lost:
            problems.append(str(lost))
            shards = self.run_dir.shards(self.nodeid)
        for worker, shard in sorted(shards.items()):
            if worker != self.me and shard.get("error"):
                verb = "skipped" if shard.get("skipped") else "failed"
                problems.append(f"worker {worker} {verb}: {shard['error']}")
        judgement = judge_shards(shards, self.thresholds, self.baseline, self.nodeid)
        judgement.problems[:0] = problems
        return judgement

    def _write_shard(self, error: str | None, skipped: bool) -> None:
        self.finished = True
        self.run_dir.write_shard(self.nodeid, self.me, {
            "worker": self.me, "index": self.index, "count": self.count,
            "thresholds": {m: list(e) for m, e in self.thresholds.items()},
            "measurements": self.measurements.to_dict(),
            "faults": [e.to_dict() for e in self.faults.events],
            "error": error, "skipped": skipped})
