"""BBS convergence (``bbs:db/sqldb/lrp_convergence.go``, ``converger``): one pass over the
in-memory records per run, every convergence interval (30 s x time-scale).

LRPs: create missing indexes and auction them; retire extras only in fresh domains; restart
CRASHED instances whose backoff expired; re-auction UNCLAIMED rows older than 30 s; mark
instances on cells without presence SUSPECT and auction a replacement (the suspect is removed
when the replacement starts; if the cell comes back first, the replacement goes instead).
Tasks: re-auction PENDING after the kick duration, fail expired PENDING, fail RUNNING on lost
cells, re-run callbacks, demote stuck RESOLVING, delete old COMPLETED tasks. Diego's BBS has
re-auctioned every unexpired PENDING Task on each pass since 2018 (``task_convergence.go``
``getTaskStartRequestsForKickablePendingTasks``); here a PENDING Task waits the kick duration
first, as Diego's documentation still says, because at a scaled interval (3 s at time scale
0.1) with auctions in real time, re-auctioning every Task whose placement is in flight would
place Tasks twice ten times as often as Diego's 30 s pass does.

The present cells are Locket's presences, read once per run before both passes (Diego's
``serviceClient.Cells``). When Locket cannot be reached the run is skipped, as Diego's
``ConvergeLRPs`` and ``ConvergeTasks`` return early: every instance would otherwise look lost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import actual, restart, tasks
from pytest_diego.cluster.bbs.cells import Presence
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.metrics import Metrics
from pytest_diego.cluster.bbs.state import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    Tx,
)
from pytest_diego.locket.errors import LocketClientError

# Records one convergence slice visits before it lets other requests have the state lock: a
# pass over 100k instances takes ~0.6 s, which held every DesireDesiredLRP for as long.
RECORDS_PER_SLICE = 2000


class _Pass:
    """What one LRP convergence pass shares across its slices: the moment it started, Diego's
    counts, the present cells (read once, before the pass, as Diego does), and the fresh domains,
    read again at each slice."""

    def __init__(self, core: Core, now: float, present: dict[str, Presence]) -> None:
        self.core, self.now = core, now
        self.present = present
        self.fresh: set[str] = set()
        self.stale_ns = (now - core.timing.stale_unclaimed_duration) * 1e9
        self.counts: Counter[str] = Counter()
        self.suspect_cells: set[str] = set()
        self.crashing: set[str] = set()
        self.log = core.logger.session("converge-lrps")


def converge_lrps(core: Core, present: dict[str, Presence]) -> dict[str, int]:
    """One LRP convergence pass over the ``present`` cells; returns Diego's LRP and cell counts.

    The pass goes process_guid by process_guid in slices of about ``RECORDS_PER_SLICE`` records,
    each slice under the state lock and committed before the lock is released, so every
    DesiredLRP is converged from one consistent view of its own records and the domains, while
    requests are served between slices.
    """
    state = core.state
    run = _Pass(core, time.time(), present)
    with state.lock:
        guids = list(dict.fromkeys([*state.desired, *state.actuals]))
    position = 0
    while position < len(guids):
        tx = Tx()
        visited = 0
        with state.lock:
            run.fresh = state.fresh_domains()
            while position < len(guids) and visited < RECORDS_PER_SLICE:
                visited += _converge_process(run, tx, guids[position])
                position += 1
            pending = core.commit(tx) if tx.ops or tx.events else None
        if pending is not None:
            pending.wait()
        core.follow_up(tx)
    counts = run.counts
    counts["CrashingDesiredLRPs"] = len(run.crashing)
    counts["PresentCells"] = len(run.present)
    counts["SuspectCells"] = len(run.suspect_cells)
    return {name: counts.get(name, 0) for name in (
        "LRPsDesired", "LRPsUnclaimed", "LRPsClaimed", "LRPsRunning", "LRPsMissing", "LRPsExtra",
        "CrashedActualLRPs", "CrashingDesiredLRPs", "SuspectRunningActualLRPs",
        "SuspectClaimedActualLRPs", "PresentCells", "SuspectCells")}


def _converge_process(run: _Pass, tx: Tx, guid: str) -> int:
    """Converge one process_guid (call with the lock held); returns the records it visited."""
    core, counts, log = run.core, run.counts, run.log
    state = core.state
    drec = state.desired.get(guid)
    desired = drec.msg if drec is not None else None
    by_index = state.actuals.get(guid, {})
    if desired is not None:
        counts["LRPsDesired"] += desired.instances
        missing = [i for i in range(desired.instances)
                   if (i, ORDINARY) not in by_index and (i, SUSPECT) not in by_index]
        if missing:
            counts["LRPsMissing"] += len(missing)
            new = [actual.unclaimed(desired, i) for i in missing]
            state.put_actuals(tx, new)
            for a in new:
                actual.created(tx, a)
            tx.lrp_auctions.append((desired, missing))
            log.info("creating-missing-actual-lrps", process_guid=guid, indices=missing)
            by_index = state.actuals.get(guid, {})
    records = list(by_index.items())
    for (index, presence), rec in records:
        lrp = rec.msg
        if presence == EVACUATING:
            continue
        if desired is None or index >= desired.instances:
            counts["LRPsExtra"] += 1
            if lrp.actual_lrp_key.domain in run.fresh:
                log.info("retiring-extra-actual-lrp", process_guid=guid, index=index)
                actual.retire(core, tx, lrp)
            continue
        if presence == SUSPECT:
            _converge_suspect(core, tx, desired, lrp, run.present, counts, run.suspect_cells)
            continue
        counts[{UNCLAIMED: "LRPsUnclaimed", CLAIMED: "LRPsClaimed", RUNNING: "LRPsRunning",
                CRASHED: "CrashedActualLRPs"}[lrp.state]] += 1
        if lrp.state in (CLAIMED, RUNNING) and actual.cell_of(lrp) not in run.present:
            if _mark_suspect(core, tx, desired, lrp, by_index):
                run.suspect_cells.add(actual.cell_of(lrp))
                counts[_suspect_metric(lrp)] += 1
        elif lrp.state == UNCLAIMED and lrp.since < run.stale_ns:
            tx.lrp_auctions.append((desired, [index]))
        elif lrp.state == CRASHED:
            run.crashing.add(guid)
            if restart.should_restart(lrp.crash_count, lrp.since / 1e9, run.now,
                                      core.timing.crash_backoff_unit):
                after = actual.unclaim(lrp)
                state.put_actual(tx, after)
                actual.moved_to_unclaimed(tx, lrp, after)
                tx.lrp_auctions.append((desired, [index]))
                log.info("restarting-crashed-actual-lrp", process_guid=guid, index=index,
                         crash_count=lrp.crash_count)
    return 1 + len(records)


def _suspect_metric(lrp: models.ActualLRP) -> str:
    return "SuspectRunningActualLRPs" if lrp.state == RUNNING else "SuspectClaimedActualLRPs"


def _mark_suspect(core: Core, tx: Tx, desired: models.DesiredLRP, lrp: models.ActualLRP,
                  by_index: dict) -> bool:
    """The instance's cell has no presence: keep it as SUSPECT, auction an ordinary replacement.
    Returns whether it became SUSPECT (False: it was itself a replacement, put up again)."""
    state = core.state
    index = lrp.actual_lrp_key.index
    guid = lrp.actual_lrp_key.process_guid
    if (index, SUSPECT) in by_index:
        # The replacement's cell is gone too: put the replacement back up for auction.
        after = actual.unclaim(lrp)
        state.put_actual(tx, after)
        actual.moved_to_unclaimed(tx, lrp, after)
        tx.lrp_auctions.append((desired, [index]))
        return False
    suspect = actual.copy(lrp)
    suspect.presence = SUSPECT
    state.put_actual(tx, suspect)
    state.delete_actual(tx, lrp)
    actual.changed(tx, lrp, suspect)
    replacement = actual.unclaimed(desired, index, lrp.crash_count)
    state.put_actual(tx, replacement)
    actual.created(tx, replacement)
    tx.lrp_auctions.append((desired, [index]))
    core.logger.info("converge-lrps.marking-actual-lrp-suspect", process_guid=guid, index=index,
                     cell_id=actual.cell_of(lrp))
    return True


def _converge_suspect(core: Core, tx: Tx, desired: models.DesiredLRP, lrp: models.ActualLRP,
                      present: dict, counts: Counter, suspect_cells: set[str]) -> None:
    state = core.state
    index = lrp.actual_lrp_key.index
    guid = lrp.actual_lrp_key.process_guid
    replacement = state.actual(guid, index, ORDINARY)
    cell = actual.cell_of(lrp)
    if replacement is not None and replacement.state == RUNNING:
        state.delete_actual(tx, lrp)
        actual.removed(tx, lrp)
        return
    if cell in present:
        # The cell came back before the replacement started: drop the replacement, keep this one.
        if replacement is not None:
            state.delete_actual(tx, replacement)
            actual.removed(tx, replacement)
        ordinary = actual.copy(lrp)
        ordinary.presence = ORDINARY
        state.put_actual(tx, ordinary)
        state.delete_actual(tx, lrp)
        actual.changed(tx, lrp, ordinary)
        core.logger.info("converge-lrps.suspect-cell-returned", process_guid=guid, index=index, cell_id=cell)
        return
    suspect_cells.add(cell)
    counts[_suspect_metric(lrp)] += 1
    if replacement is None:
        new = actual.unclaimed(desired, index, lrp.crash_count)
        state.put_actual(tx, new)
        actual.created(tx, new)
        tx.lrp_auctions.append((desired, [index]))


def converge_tasks(core: Core, present: dict[str, Presence], metrics: Metrics | None = None
                   ) -> dict[str, int]:
    """One Task convergence pass over the ``present`` cells; returns the task counts by state."""
    state, timing = core.state, core.timing
    now = time.time_ns()
    kick = timing.kick_task_duration * 1e9
    expire_pending = timing.expire_pending_task_duration * 1e9
    expire_completed = timing.expire_completed_task_duration * 1e9
    counts: Counter[int] = Counter()
    kicked = pruned = 0
    callbacks: list[str] = []
    tx = Tx()
    log = core.logger.session("converge-tasks")
    with state.lock:
        for guid, rec in list(state.tasks.items()):
            task = rec.msg
            counts[task.state] += 1
            if task.state == tasks.PENDING:
                if now - task.created_at > expire_pending:
                    _fail(core, tx, task, "not started within time limit")
                    pruned += 1
                elif now - task.updated_at > kick:
                    tx.task_auctions.append(task)
                    kicked += 1
            elif task.state == tasks.RUNNING and task.cell_id not in present:
                _fail(core, tx, task, "cell disappeared before completion")
                log.info("failing-task-on-lost-cell", task_guid=guid, cell_id=task.cell_id)
                pruned += 1
            elif task.state == tasks.COMPLETED:
                if now - task.first_completed_at > expire_completed:
                    state.delete_task(tx, guid)
                    tx.event("task", "task_removed", models.TaskRemovedEvent(task=task), task.cell_id)
                    pruned += 1
                elif task.task_definition.completion_callback_url and now - task.updated_at > kick:
                    callbacks.append(guid)
                    kicked += 1
            elif task.state == tasks.RESOLVING and now - task.updated_at > kick:
                after = models.Task()
                after.CopyFrom(task)
                after.state = tasks.COMPLETED
                after.updated_at = now
                state.put_task(tx, after)
                tx.event("task", "task_changed", models.TaskChangedEvent(before=task, after=after), "")
                if task.task_definition.completion_callback_url:
                    callbacks.append(guid)
                kicked += 1
        pending = core.commit(tx) if tx.ops or tx.events else None
    if pending is not None:
        pending.wait()
    core.follow_up(tx)
    for guid in callbacks:
        core.outbound.submit(tasks.run_callback, core, guid)
    if metrics is not None:
        metrics.tasks_kicked.inc(kicked)
        metrics.tasks_pruned.inc(pruned)
    return {"TasksPending": counts[tasks.PENDING], "TasksRunning": counts[tasks.RUNNING],
            "TasksCompleted": counts[tasks.COMPLETED], "TasksResolving": counts[tasks.RESOLVING]}


def _fail(core: Core, tx: Tx, task: models.Task, reason: str) -> None:
    after = models.Task()
    after.CopyFrom(task)
    after.state = tasks.COMPLETED
    after.cell_id = ""
    after.failed = True
    after.failure_reason = reason
    after.updated_at = after.first_completed_at = time.time_ns()
    core.state.put_task(tx, after)
    tx.event("task", "task_changed", models.TaskChangedEvent(before=task, after=after), task.cell_id)
    tx.after.append(lambda: core.counters.add("tasks_failed"))  # counted once committed
    if after.task_definition.completion_callback_url:
        tx.after.append(lambda: core.outbound.submit(tasks.run_callback, core, after.task_guid))


class Converger:
    """Runs LRP and Task convergence every interval and publishes the results as metrics. The
    first run waits one interval, so cells have refreshed their presences after a BBS restart."""

    def __init__(self, core: Core, metrics: Metrics, interval: float) -> None:
        self._core = core
        self._metrics = metrics
        self._interval = interval
        self._stop = threading.Event()
        self._run_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="bbs-converger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            writer = self._core.state.writer
            if writer is not None and writer.broken is not None:  # nothing it changed could commit
                self._core.logger.info("convergence.skipped", reason=str(writer.broken))
                continue
            try:
                self.run_once()
            except Exception as e:  # keep converging: the next run may succeed
                self._core.logger.error("convergence.failed", e)

    def run_once(self) -> None:
        with self._run_lock:
            core, metrics = self._core, self._metrics
            try:
                present = core.cells.cells()
            except LocketClientError as e:  # Diego's convergence runs again at the next tick
                core.logger.error("converge-lrps.failed-listing-cells", e)
                return
            started = time.perf_counter()
            lrp_counts = converge_lrps(core, present)
            metrics.lrp_duration.set(time.perf_counter() - started)
            metrics.lrp_runs.inc()
            started = time.perf_counter()
            task_counts = converge_tasks(core, present, metrics)
            metrics.task_duration.set(time.perf_counter() - started)
            metrics.task_runs.inc()
            metrics.set_counts({**lrp_counts, **task_counts})
            with core.state.lock:
                metrics.set_domains(core.state.fresh_domains(), set(core.state.domains))
            core.logger.info("convergence.complete", **lrp_counts, **task_counts)
