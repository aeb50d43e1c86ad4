"""Watching crashing apps against Diego's crash restart policy (diego-behaviour.md §4).

After the 1st and 2nd crash an instance restarts at once (back to UNCLAIMED, never CRASHED).
From the 3rd it stays CRASHED for 30 s × 2^(crash_count−3) (capped at 16 min), and the BBS
restarts it on the next convergence tick after that. Each observed restart is recorded in the
Rate ``CrashRestartOnPolicy``: ``ok``; ``not-immediate`` (CRASHED with fewer than 3 crashes);
``early`` (left CRASHED before its backoff); ``late`` (still CRASHED one convergence interval
plus ``slack`` after its backoff ended).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from pytest_diego.cluster.timing import Timing
from pytest_diego.measure.metrics import Rate

IMMEDIATE_RESTARTS = 3
MAX_BACKOFF_EXPONENT = 5
MAX_RESTARTS = 200


def backoff(crash_count: int, unit: float) -> float | None:
    """Seconds an instance stays CRASHED after its ``crash_count``-th crash (None: forever)."""
    if crash_count < IMMEDIATE_RESTARTS:
        return 0.0
    if crash_count >= MAX_RESTARTS:
        return None
    return unit * 2 ** min(crash_count - IMMEDIATE_RESTARTS, MAX_BACKOFF_EXPONENT)


class CrashPolicyWatch:
    """Call ``poll(actual_lrps)`` often (every ``slack`` or less) with the crashing apps' instances."""

    def __init__(self, timing: Timing, outcomes: Rate, slack: float) -> None:
        self.timing, self.outcomes, self.slack = timing, outcomes, slack
        self.judged: set[tuple[str, int]] = set()  # (instance, crash_count) already recorded
        self.crashed: dict[tuple[str, int], float] = {}  # (instance, crash_count) -> CRASHED since (s)

    def poll(self, lrps: Iterable[Any], now: float | None = None) -> None:
        now = time.time() if now is None else now
        for lrp in lrps:
            key = f"{lrp.actual_lrp_key.process_guid}/{lrp.actual_lrp_key.index}"
            count, since = lrp.crash_count, lrp.since / 1e9
            life = (key, count)
            if count == 0 or life in self.judged:
                continue
            if lrp.state == "CRASHED":
                if count < IMMEDIATE_RESTARTS:
                    self._judge(life, now, "not-immediate")
                    continue
                self.crashed.setdefault(life, since)
                wait = backoff(count, self.timing.crash_backoff_unit)
                if wait is not None and now > since + wait + self.timing.convergence_interval + self.slack:
                    self._judge(life, now, "late")
            elif count < IMMEDIATE_RESTARTS:
                self._judge(life, now, "ok")
            elif life in self.crashed:
                crashed_at = self.crashed[life]
                wait = backoff(count, self.timing.crash_backoff_unit) or 0.0
                early = lrp.state == "UNCLAIMED" and since - crashed_at < wait - 0.05
                self._judge(life, now, "early" if early else "ok")

    def _judge(self, life: tuple[str, int], now: float, outcome: str) -> None:
        self.judged.add(life)
        self.outcomes.add(now, outcome)
