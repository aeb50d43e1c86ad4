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
``LRPTimeToRunning``, one sample per *life*.

When a life starts (the clock). An ActualLRP instance's life starts at its first UNCLAIMED:
``actual_lrp_instance_created`` in state UNCLAIMED, which is how Diego reports a new index, a
re-created one, an immediate crash restart, a CRASHED instance restarted after its backoff, an
evacuated instance and a suspect's replacement (``bbs:events/calculator``: a move to UNCLAIMED
from CLAIMED, RUNNING or CRASHED is emitted as created + removed). UNCLAIMED → UNCLAIMED changes
(a placement error set, ``since`` moved, an auction retried) do not start a life: the instance is
still waiting, so an instance left UNCLAIMED with a placement error for 20 s records ≥ 20 s. A
change to UNCLAIMED from another state (which Diego emits as created, but another BBS may emit
as changed) starts a life only when ``crash_count`` went up (a crash restart); otherwise it is an
``unclaimed`` setback. A Task's life starts at ``created_at``, which never moves.

When a stage ends: at the first claimed/running (completed) of the life that no setback undid.
A setback (``unclaimed`` for an instance, ``rejected`` for a Task sent back from RUNNING to
PENDING) voids the ends reached so far, so the stage ends when the state is reached again and
the clock keeps running from the life's start. Records of EVACUATING and SUSPECT copies are not
the index's own life and are left out.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pytest_diego.measure import names
from pytest_diego.measure.metrics import Trend

Milestone = tuple[str, float]

_TASK_STATES = {1: "desired", 2: "running", 3: "completed", 4: "resolved"}
_TASK_PENDING, _TASK_RUNNING = 1, 2
_LRP_STATES = {"UNCLAIMED": "created", "CLAIMED": "claimed", "RUNNING": "running",
               "CRASHED": "crashed"}
_ORDINARY = 0  # ActualLRP.presence: the index's own record, not an EVACUATING/SUSPECT copy
ORIGINS = {"tasks": "desired", "lrps": "created"}
SETBACKS = {"tasks": "rejected", "lrps": "unclaimed"}


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
            self._observe_task(kind, msg, now)
        elif kind in ("actual_lrp_instance_created", "actual_lrp_instance_removed"):
            lrp = msg.actual_lrp
            if lrp.presence != _ORDINARY:
                return
            key = lrp.actual_lrp_key
            if kind == "actual_lrp_instance_removed":
                self.add_lrp(key.process_guid, key.index, "removed", now)
            elif lrp.state in _LRP_STATES:
                self.add_lrp(key.process_guid, key.index, _LRP_STATES[lrp.state], _ns(lrp.since, now))
        elif kind == "actual_lrp_instance_changed":
            milestone = _changed_milestone(msg.before, msg.after)
            if milestone is not None:
                key = msg.actual_lrp_key
                self.add_lrp(key.process_guid, key.index, milestone, _ns(msg.after.since, now))
        elif kind == "actual_lrp_crashed":
            key = msg.actual_lrp_key
            self.add_lrp(key.process_guid, key.index, "crashed", _ns(msg.since, now))
        elif kind == "desired_lrp_created":
            self.add_desired_lrp(msg.desired_lrp.process_guid, "desired", now)
        elif kind == "desired_lrp_removed":
            self.add_desired_lrp(msg.desired_lrp.process_guid, "removed", now)

    def _observe_task(self, kind: str, msg: Any, now: float) -> None:
        task = msg.after if kind == "task_changed" else msg.task
        if kind == "task_removed":
            self.add_task(task.task_guid, "removed", now)
        elif kind == "task_changed" and msg.before.state == _TASK_RUNNING and task.state == _TASK_PENDING:
            # RejectTask sent a RUNNING Task back to PENDING: that run did not happen
            self.add_task(task.task_guid, SETBACKS["tasks"], _ns(task.updated_at, now))
        elif kind == "task_changed" and task.state == _TASK_PENDING and not task.created_at:
            return  # still pending; without the BBS's created_at, "now" would restart the clock
        elif task.state in _TASK_STATES:
            stamp = {1: task.created_at, 2: task.updated_at,
                     3: task.first_completed_at or task.updated_at, 4: task.updated_at}[task.state]
            self.add_task(task.task_guid, _TASK_STATES[task.state], _ns(stamp, now))

    # -- stages ---------------------------------------------------------------------------------
    STAGES = (names.TASK_TIME_TO_RUNNING, names.TASK_TIME_TO_COMPLETE, names.LRP_TIME_TO_CLAIM,
              names.LRP_TIME_TO_RUNNING)

    def stage_trends(self) -> dict[str, Trend]:
        """Stage distributions as Trends (sample time = the stage's end)."""
        trends = {name: Trend() for name in self.STAGES}
        for milestones in self.tasks.values():
            _stages(milestones, "tasks", {"running": trends[names.TASK_TIME_TO_RUNNING],
                                          "completed": trends[names.TASK_TIME_TO_COMPLETE]})
        for milestones in self.lrps.values():
            _stages(milestones, "lrps", {"claimed": trends[names.LRP_TIME_TO_CLAIM],
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


def _changed_milestone(before: Any, after: Any) -> str | None:
    """The milestone of an ``actual_lrp_instance_changed`` (two ``ActualLRPInfo``), if any."""
    if after.presence != _ORDINARY or after.state not in _LRP_STATES:
        return None  # an EVACUATING/SUSPECT copy, or an ordinary record becoming one
    if after.state != "UNCLAIMED":
        return _LRP_STATES[after.state]
    if before.state == "UNCLAIMED":
        return None  # still waiting: a placement error, a moved since, a retried auction
    return "created" if after.crash_count > before.crash_count else SETBACKS["lrps"]


def _stages(milestones: list[Milestone], kind: str, ends: dict[str, Trend]) -> None:
    """One sample per life and end: life start → the first end milestone no setback undid."""
    origin, setback = ORIGINS[kind], SETBACKS[kind]
    start: float | None = None
    reached: dict[str, float] = {}

    def close_life(start: float) -> None:
        for milestone, t in reached.items():
            ends[milestone].record(t, t - start)

    for milestone, t in sorted(milestones, key=lambda m: m[1]):
        if milestone == origin:
            if start is not None:
                close_life(start)
            start, reached = t, {}
        elif start is None:
            continue
        elif milestone == setback:
            reached = {}
        elif milestone in ends and milestone not in reached:
            reached[milestone] = t
    if start is not None:
        close_life(start)


def _ns(stamp: int, fallback: float) -> float:
    return stamp / 1e9 if stamp else fallback
