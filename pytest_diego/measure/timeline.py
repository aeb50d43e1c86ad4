"""Lifecycle timelines: milestones per Task and per ActualLRP instance, and their stages.

Milestones (Diego's states, cicerone's bands): a Task is ``desired``, ``running``,
``completed``, ``resolved``, ``removed``; an ActualLRP instance (``process_guid/index``) is
``created`` (UNCLAIMED), ``claimed``, ``running``, ``crashed``, ``removed``, and a DesiredLRP
(``process_guid``) is ``desired``. They come from the BBS event streams (``observe_event``)
or lager logs (``pytest_diego.measure.perfchug``). Event timestamps are the BBS's own
(``since``, ``created_at``, ``updated_at``, Unix ns) when the record carries one, else the time
the event arrived.

Stages are derived after merging, because one worker may see a Task desired and another see it
complete: ``TaskTimeToRunning``, ``TaskTimeToComplete``, ``LRPTimeToClaim``,
``LRPTimeToRunning`` (each created → the first claimed/running before the next created, so a
restarted instance yields one sample per life).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pytest_diego.measure import names
from pytest_diego.measure.metrics import Trend

Milestone = tuple[str, float]

_TASK_STATES = {1: "desired", 2: "running", 3: "completed", 4: "resolved"}
_LRP_STATES = {"UNCLAIMED": "created", "CLAIMED": "claimed", "RUNNING": "running",
               "CRASHED": "crashed"}


def lrp_key(process_guid: str, index: int) -> str:
    return f"{process_guid}/{index}"


class Timelines:
    """Milestones by Task guid, ActualLRP instance and DesiredLRP; thread-safe to add to."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[Milestone]] = {}
        self.lrps: dict[str, list[Milestone]] = {}
        self.desired_lrps: dict[str, list[Milestone]] = {}
        self._lock = threading.Lock()

    def add_task(self, task_guid: str, milestone: str, t: float) -> None:
        self._add(self.tasks, task_guid, milestone, t)

    def add_lrp(self, process_guid: str, index: int, milestone: str, t: float) -> None:
        self._add(self.lrps, lrp_key(process_guid, index), milestone, t)

    def add_desired_lrp(self, process_guid: str, milestone: str, t: float) -> None:
        self._add(self.desired_lrps, process_guid, milestone, t)

    def _add(self, table: dict[str, list[Milestone]], key: str, milestone: str, t: float) -> None:
        with self._lock:
            entries = table.setdefault(key, [])
            if (milestone, t) not in entries:
                entries.append((milestone, t))

    def observe_event(self, event: Any, received_at: float | None = None) -> None:
        """Record the milestone a decoded BBS event (``.type``, ``.message``) stands for."""
        now = time.time() if received_at is None else received_at
        kind, msg = event.type, event.message
        if kind in ("task_created", "task_changed", "task_removed"):
            task = msg.after if kind == "task_changed" else msg.task
            if kind == "task_removed":
                self.add_task(task.task_guid, "removed", now)
            elif task.state in _TASK_STATES:
                stamp = {1: task.created_at, 2: task.updated_at,
                         3: task.first_completed_at or task.updated_at, 4: task.updated_at}[task.state]
                self.add_task(task.task_guid, _TASK_STATES[task.state], _ns(stamp, now))
        elif kind in ("actual_lrp_instance_created", "actual_lrp_instance_removed"):
            lrp = msg.actual_lrp
            key = lrp.actual_lrp_key
            if kind == "actual_lrp_instance_removed":
                self.add_lrp(key.process_guid, key.index, "removed", now)
            elif lrp.state in _LRP_STATES:
                self.add_lrp(key.process_guid, key.index, _LRP_STATES[lrp.state], _ns(lrp.since, now))
        elif kind == "actual_lrp_instance_changed":
            key = msg.actual_lrp_key
            if msg.after.state in _LRP_STATES:
                self.add_lrp(key.process_guid, key.index, _LRP_STATES[msg.after.state],
                             _ns(msg.after.since, now))
        elif kind == "actual_lrp_crashed":
            key = msg.actual_lrp_key
            self.add_lrp(key.process_guid, key.index, "crashed", _ns(msg.since, now))
        elif kind == "desired_lrp_created":
            self.add_desired_lrp(msg.desired_lrp.process_guid, "desired", now)
        elif kind == "desired_lrp_removed":
            self.add_desired_lrp(msg.desired_lrp.process_guid, "removed", now)

    # -- stages ---------------------------------------------------------------------------------
    def stage_trends(self) -> dict[str, Trend]:
        """Stage distributions as Trends (sample time = the stage's end)."""
        trends = {name: Trend() for name in (names.TASK_TIME_TO_RUNNING, names.TASK_TIME_TO_COMPLETE,
                                             names.LRP_TIME_TO_CLAIM, names.LRP_TIME_TO_RUNNING)}
        for milestones in self.tasks.values():
            _stages(milestones, "desired", {"running": trends[names.TASK_TIME_TO_RUNNING],
                                            "completed": trends[names.TASK_TIME_TO_COMPLETE]})
        for milestones in self.lrps.values():
            _stages(milestones, "created", {"claimed": trends[names.LRP_TIME_TO_CLAIM],
                                            "running": trends[names.LRP_TIME_TO_RUNNING]})
        return trends

    # -- plain data -----------------------------------------------------------------------------
    def merge(self, other: Timelines) -> Timelines:
        for mine, theirs in ((self.tasks, other.tasks), (self.lrps, other.lrps),
                             (self.desired_lrps, other.desired_lrps)):
            for key, entries in theirs.items():
                for milestone, t in entries:
                    self._add(mine, key, milestone, t)
        return self

    def to_dict(self) -> dict[str, Any]:
        def table(t: dict[str, list[Milestone]]) -> dict[str, list[list[Any]]]:
            return {k: [[m, ts] for m, ts in sorted(v, key=lambda e: e[1])] for k, v in sorted(t.items())}
        return {"tasks": table(self.tasks), "lrps": table(self.lrps),
                "desired_lrps": table(self.desired_lrps)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timelines:
        timelines = cls()
        for attr in ("tasks", "lrps", "desired_lrps"):
            setattr(timelines, attr, {k: [(m, float(ts)) for m, ts in v]
                                      for k, v in data.get(attr, {}).items()})
        return timelines


def _stages(milestones: list[Milestone], origin: str, ends: dict[str, Trend]) -> None:
    """For each ``origin`` milestone, time to the first of each end milestone before the next."""
    ordered = sorted(milestones, key=lambda m: m[1])
    start: float | None = None
    pending: set[str] = set()
    for milestone, t in ordered:
        if milestone == origin:
            start, pending = t, set(ends)
        elif start is not None and milestone in pending:
            pending.discard(milestone)
            ends[milestone].record(t, t - start)


def _ns(stamp: int, fallback: float) -> float:
    return stamp / 1e9 if stamp else fallback
