"""Crash restarts judged from the BBS's LRP instance event stream against Diego's policy.

Diego's restart policy (``bbs:models/restart_calculator.go``, docs/diego-facts.md §4): after the
1st and 2nd crash an instance is restarted at once (the BBS moves it back to UNCLAIMED in the
crash's own transaction); from the 3rd it stays CRASHED for ``30 s × 2^(n−3)``, capped at 16 min
(the exponent stops at 5), and the next convergence tick after that restarts it; from the 200th
it is never restarted. The 30 s unit and the convergence interval come from ``Timing``, so the
same oracle judges a real Diego (time scale 1) and the embedded cluster at any time scale.

``CrashPolicy`` is fed the events our client yields (``EventFollower(stream, crash_policy)``,
``observe_event``). Every crash (an ``actual_lrp_crashed`` event, an instance changed to CRASHED,
or an instance whose ``crash_count`` went up without either) is paired with the next time that
instance leaves the crash (its next UNCLAIMED, CLAIMED or RUNNING) and judged into the Rate
``CrashRestartOnPolicy``. Times are the BBS's own (``since``), never the time an event arrived.
(The arrival time stands in only when an event carries no ``since``.) Outcomes:

- ``ok``: on policy;
- ``early``: restarted before its backoff ended (for crash ≥ 3);
- ``late``: not restarted by its bound: the crash time for crashes 1 and 2, else the end of the
  backoff plus one convergence interval; both plus ``slack``. Judged when the restart arrives
  after the bound, when the stream's own clock (the newest ``since`` seen) has passed the bound
  by ``reorder_allowance`` (Diego emits events from goroutines, so they may arrive slightly out
  of order), or at ``close()``;
- ``not-crashed-first``: crash ≥ 3 restarted on time but without ever being CRASHED;
- ``not-immediate``: crash 1 or 2 held in CRASHED instead of restarted at once;
- ``restarted-after-give-up``: crash ≥ 200 restarted;
- ``restart-not-seen``: the instance crashed again before a restart of the previous crash was
  seen (events were lost: the restart cannot be judged, so it is not counted as on policy).

When a crash breaks two rules, the first in this order wins: early, late, not-crashed-first.
Crashes of instances the DesiredLRP no longer wants (removed, or scaled below the index) are
dropped unjudged. Only ORDINARY records count: EVACUATING and SUSPECT copies are not the index.

The policy is written here again on purpose rather than imported from the embedded BBS
(``cluster/bbs/restart.py``): an oracle that shares the code it judges cannot catch its bugs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from pytest_diego.cluster.timing import Timing
from pytest_diego.measure.metrics import Rate

IMMEDIATE_RESTARTS = 3  # crash counts below this restart at once
MAX_BACKOFF_EXPONENT = 5  # 30 s × 2^5 = 16 min, Diego's cap
GIVE_UP_CRASH_COUNT = 200  # from this crash count Diego never restarts
REORDER_ALLOWANCE = 1.0  # seconds the stream's clock must pass a bound by before it judges
MAX_JUDGMENTS_KEPT = 10_000

OK, EARLY, LATE = "ok", "early", "late"
NOT_CRASHED_FIRST, NOT_IMMEDIATE = "not-crashed-first", "not-immediate"
RESTARTED_AFTER_GIVE_UP, RESTART_NOT_SEEN = "restarted-after-give-up", "restart-not-seen"

_ORDINARY = 0
_CRASHED = "CRASHED"
_LEFT_CRASH = ("UNCLAIMED", "CLAIMED", "RUNNING")


def backoff(crash_count: int, unit: float) -> float | None:
    """Seconds Diego keeps an instance CRASHED after its ``crash_count``-th crash; None: forever."""
    if crash_count < IMMEDIATE_RESTARTS:
        return 0.0
    if crash_count >= GIVE_UP_CRASH_COUNT:
        return None
    return unit * 2 ** min(crash_count - IMMEDIATE_RESTARTS, MAX_BACKOFF_EXPONENT)


@dataclass
class Judgment:
    """One crash and what became of it (times are the BBS's, Unix seconds)."""

    instance: str  # process_guid/index
    crash_count: int
    crashed_at: float
    earliest: float  # restart allowed from
    latest: float | None  # restart due by (None: never restarted)
    restarted_at: float | None
    outcome: str


Instance = tuple[str, int]  # process_guid, index


@dataclass
class _Crash:
    instance: Instance
    count: int
    at: float
    crashed_state_seen: bool = False


class CrashPolicy:
    """Judges every crash seen on an LRP instance event stream; thread-safe to feed and close.

    ``process_guids`` limits the judging to some apps (a set, or a predicate), e.g. the apps
    one xdist shard owns, so that shards following the same stream do not judge a crash twice.
    """

    def __init__(self, timing: Timing, outcomes: Rate, *, slack: float = 2.0,
                 process_guids: Collection[str] | Callable[[str], bool] | None = None,
                 reorder_allowance: float = REORDER_ALLOWANCE) -> None:
        if slack < 0 or reorder_allowance < 0:
            raise ValueError(f"slack ({slack!r}) and reorder_allowance ({reorder_allowance!r}) "
                             "must be seconds >= 0")
        self.unit = float(timing.crash_backoff_unit)
        self.convergence_interval = float(timing.convergence_interval)
        self.outcomes, self.slack, self.reorder_allowance = outcomes, slack, reorder_allowance
        if process_guids is None or callable(process_guids):
            self._wanted = process_guids
        else:
            wanted = frozenset(process_guids)
            self._wanted = wanted.__contains__
        self.judgments: deque[Judgment] = deque(maxlen=MAX_JUDGMENTS_KEPT)
        self.dropped = 0  # crashes of instances no longer desired
        self.stream_time = 0.0  # the newest BBS timestamp seen
        self._pending: dict[Instance, _Crash] = {}
        self._crash_count: dict[Instance, int] = {}  # the last crash_count seen per instance
        self._lock = threading.Lock()

    # -- feeding --------------------------------------------------------------------------------
    def observe_event(self, event: Any, received_at: float | None = None) -> None:
        """One decoded event of ``/v1/events/lrp_instances.r1`` (other kinds are ignored)."""
        kind, msg = event.type, event.message
        arrived = time.time() if received_at is None else received_at
        with self._lock:
            if kind == "actual_lrp_crashed":
                self._on_crashed(msg, arrived)
            elif kind == "actual_lrp_instance_changed":
                key = msg.actual_lrp_key
                if msg.after.presence == _ORDINARY:
                    self._on_record(key.process_guid, key.index, msg.after, arrived)
            elif kind == "actual_lrp_instance_created":
                lrp = msg.actual_lrp
                if lrp.presence == _ORDINARY:
                    key = lrp.actual_lrp_key
                    self._on_record(key.process_guid, key.index, lrp, arrived)
            elif kind == "desired_lrp_removed":
                self._drop(msg.desired_lrp.process_guid, 0)
            elif kind == "desired_lrp_changed":
                self._drop(msg.after.process_guid, msg.after.instances)
            else:
                return
            if self.stream_time:
                self._judge_overdue(self.stream_time - self.reorder_allowance)

    def check(self, now: float | None = None) -> None:
        """Judge as late every pending crash whose bound is before ``now`` (default: the clock)."""
        with self._lock:
            self._judge_overdue(time.time() if now is None else now)

    def close(self, now: float | None = None) -> int:
        """Judge what can be judged at ``now``; returns how many crashes stay unjudged (their
        bound is still ahead). Instances past their 200th crash that stayed down are ``ok``."""
        with self._lock:
            self._judge_overdue(time.time() if now is None else now)
            for instance, crash in list(self._pending.items()):
                if backoff(crash.count, self.unit) is None:
                    del self._pending[instance]
                    self._record(crash, None, OK)
            return len(self._pending)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- events ---------------------------------------------------------------------------------
    def _wants(self, process_guid: str) -> bool:
        return self._wanted is None or self._wanted(process_guid)

    def _on_crashed(self, msg: Any, arrived: float) -> None:
        key = msg.actual_lrp_key
        if not self._wants(key.process_guid):
            return
        instance = (key.process_guid, key.index)
        at = _seconds(msg.since, arrived)
        self._tick(at)
        pending = self._pending.get(instance)
        if pending is None or (pending.count, pending.at) != (msg.crash_count, at):
            self._crash(instance, msg.crash_count, at)
        self._crash_count[instance] = msg.crash_count

    def _on_record(self, process_guid: str, index: int, record: Any, arrived: float) -> None:
        """An ORDINARY record as an event shows it (an ActualLRP or an ActualLRPInfo)."""
        if not self._wants(process_guid):
            return
        instance = (process_guid, index)
        at, count = _seconds(record.since, arrived), record.crash_count
        self._tick(at)
        known = self._crash_count.get(instance)
        pending = self._pending.get(instance)
        if record.state == _CRASHED:
            if pending is None or pending.count != count:
                pending = self._crash(instance, count, at)
            pending.crashed_state_seen = True
        elif known is not None and count > known:
            self._crash(instance, count, at)  # a crash the BBS announced only by its count
        self._crash_count[instance] = count
        if record.state in _LEFT_CRASH:
            self._restarted(instance, at)

    def _tick(self, at: float) -> None:
        self.stream_time = max(self.stream_time, at)

    def _crash(self, instance: Instance, count: int, at: float) -> _Crash:
        earlier = self._pending.pop(instance, None)
        if earlier is not None:
            self._record(earlier, None, RESTART_NOT_SEEN)
        crash = self._pending[instance] = _Crash(instance, count, at)
        return crash

    def _restarted(self, instance: Instance, at: float) -> None:
        crash = self._pending.pop(instance, None)
        if crash is None:
            return
        earliest, latest = self._bounds(crash)
        if latest is None:
            outcome = RESTARTED_AFTER_GIVE_UP
        elif crash.count < IMMEDIATE_RESTARTS and crash.crashed_state_seen:
            outcome = NOT_IMMEDIATE
        elif at < earliest:
            outcome = EARLY
        elif at > latest:
            outcome = LATE
        elif crash.count >= IMMEDIATE_RESTARTS and not crash.crashed_state_seen:
            outcome = NOT_CRASHED_FIRST
        else:
            outcome = OK
        self._record(crash, at, outcome)

    def _drop(self, process_guid: str, instances: int) -> None:
        for instance in [i for i in self._pending if i[0] == process_guid and i[1] >= instances]:
            del self._pending[instance]
            self.dropped += 1

    # -- judging --------------------------------------------------------------------------------
    def _bounds(self, crash: _Crash) -> tuple[float, float | None]:
        wait = backoff(crash.count, self.unit)
        if wait is None:
            return crash.at, None
        tick = self.convergence_interval if crash.count >= IMMEDIATE_RESTARTS else 0.0
        return crash.at + wait, crash.at + wait + tick + self.slack

    def _judge_overdue(self, now: float) -> None:
        for instance, crash in list(self._pending.items()):
            _, latest = self._bounds(crash)
            if latest is not None and now > latest:
                del self._pending[instance]
                immediate = crash.count < IMMEDIATE_RESTARTS and crash.crashed_state_seen
                self._record(crash, None, NOT_IMMEDIATE if immediate else LATE)

    def _record(self, crash: _Crash, restarted_at: float | None, outcome: str) -> None:
        earliest, latest = self._bounds(crash)
        guid, index = crash.instance
        self.judgments.append(Judgment(f"{guid}/{index}", crash.count, crash.at, earliest, latest,
                                       restarted_at, outcome))
        when = restarted_at if restarted_at is not None else (latest if latest is not None else crash.at)
        self.outcomes.add(when, outcome)


def _seconds(since_ns: int, arrived: float) -> float:
    """The BBS's timestamp in Unix seconds; the arrival time when the BBS sent none."""
    return since_ns / 1e9 if since_ns else arrived
