"""The simulated rep: takes work from the auctioneer and drives it through the BBS cell-side routes.

Everything runs on one asyncio event loop (rep API, instance listeners, timers); the blocking
``BBSClient`` calls go through a small thread pool, so a cell costs one process, a few threads and
next to no CPU while idle. What happens to work, in Diego's order:

- **LRP**: reserve (in ``/work``) -> ClaimActualLRP (CLAIMED) -> DesiredLRP (cached) -> create the
  container (container model) -> listen on the next host port from 61001 -> StartActualLRP
  (RUNNING). A crashing app (``behaviour.crash_after``) closes its port, CrashActualLRP, release.
  ``stop``: close the port, RemoveActualLRP, release.
- **Task**: reserve -> StartTask (``should_start`` false: release) -> Task -> create the container
  (container model) -> run (``behaviour.task_duration``) -> CompleteTask(result=task_guid) ->
  release. ``cancel``: stop and release.
- **Starting containers** (``/state``'s ``starting_container_count``, which the auctioneer weighs
  at 0.25 each): every container not yet running, as the rep counts executor containers still
  reserved, initializing or created; a Task's counts until its container is created.
- **Bulk sync** every ``rep_poll_interval``: reconcile with ``actual_lrps(cell_id)`` and
  ``tasks(cell_id)`` (see :meth:`Rep.bulk_sync`).
- **Presence** in Locket (``presence.PresenceKeeper``): registered at start, then refreshed every
  ``presence_refresh`` by the host's ``PresenceRefresher``.

A SIGKILL needs no code: presence stops, listeners close with the process. A SIGTERM releases
the presence (as Diego's rep does when signalled), closes the listeners and tells the BBS nothing.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSConnectionError, BBSError, BBSTimeoutError
from pytest_diego.cluster.cell import behaviour
from pytest_diego.cluster.cell.container_model import ContainerModel
from pytest_diego.cluster.cell.containers import (
    CLAIMED,
    INITIALIZING,
    RESERVED,
    RUNNING,
    LRPContainer,
    TaskContainer,
)
from pytest_diego.cluster.cell.instance_server import open_listener
from pytest_diego.cluster.cell.ledger import Capacity, Ledger
from pytest_diego.cluster.metrics_agent import Point, Publisher, render
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.locket import new_cell_presence
from pytest_diego.rep import models as rep_models
from pytest_diego.rep.models import CellState, LRPUpdate, Resources, RootFSProviders, Work

CRASH_REASON = "APP/PROC/WEB: Exited with status 1"
MISSING_TASK_CONTAINER = "task container does not exist"
STACKS = ("cflinuxfs3", "cflinuxfs4")
IDEMPOTENT_ATTEMPTS = 3
EVACUATION_TIMEOUT = 600.0  # Diego's rep evacuation_timeout, seconds
SHUTDOWN_REASON = "cell is shutting down"


@dataclass(frozen=True)
class CellConfig:
    cell_id: str
    zone: str
    address: str
    capacity: Capacity = field(default_factory=Capacity)
    timing: Timing = field(default_factory=Timing)
    container_model: ContainerModel = field(default_factory=lambda: ContainerModel("zero"))
    crash_time_scale: float = 1.0
    placement_tags: tuple[str, ...] = ()
    optional_placement_tags: tuple[str, ...] = ()
    bbs_workers: int = 4
    cell_index: int = 0  # the rep's cell_index (the auctioneer's bin-pack order)
    evacuation_timeout: float = EVACUATION_TIMEOUT


ROOTFS_PROVIDERS = RootFSProviders(arbitrary=("docker",),
                                   fixed={"preloaded": STACKS, "preloaded+layer": STACKS})
"""What the rep's /state reports: the preloaded stacks (also as preloaded+layer), any docker image."""


class CellIdMismatch(ValueError):
    """Work sent to this cell names another cell (the rep answers it with a 500)."""


def _resources(capacity: Capacity) -> Resources:
    return Resources(capacity.memory_mb, capacity.disk_mb, capacity.containers)


class Rep:
    """One cell's rep: its containers, its capacity and its conversations with the BBS."""

    def __init__(self, config: CellConfig, bbs: Any, logger: Logger, presence_keeper: Any,
                 rep_url: str = "", rng: random.Random | None = None,
                 bbs_pool: ThreadPoolExecutor | None = None,
                 presence_pool: ThreadPoolExecutor | None = None) -> None:
        self.config = config
        self.bbs = bbs
        self.presence_keeper = presence_keeper  # a presence.PresenceKeeper, or what tests give
        self.logger = logger
        self.rep_url = rep_url
        self.rng = rng or random.Random()
        self.ledger = Ledger(config.capacity)
        self.lrps: dict[str, LRPContainer] = {}  # by instance_guid
        self.tasks: dict[str, TaskContainer] = {}  # by task_guid
        self.ports_in_use: set[int] = set()
        self._ended: dict[str, float] = {}  # instance/task guid -> monotonic time it left this cell
        self._desired: dict[str, asyncio.Future[models.DesiredLRP]] = {}
        # Many cells in one process share their host's pools; a cell alone owns its own.
        self._pool = bbs_pool or ThreadPoolExecutor(max_workers=config.bbs_workers, thread_name_prefix="bbs")
        # presence has a thread of its own: queued behind a burst of claims and starts it could
        # miss its TTL, and the BBS would call the cell lost while it is only busy
        self._presence_pool = presence_pool or ThreadPoolExecutor(max_workers=1,
                                                                  thread_name_prefix="presence")
        self._owned_pools = [pool for pool, given in ((self._pool, bbs_pool),
                                                      (self._presence_pool, presence_pool)) if given is None]
        self.evacuating = False
        self.admin_url = ""
        self._loops: list[asyncio.Task[Any]] = []
        self.bulk_sync_duration = 0.0
        self.container_creation_duration = 0.0

    # ------------------------------------------------------------------ plumbing

    async def _bbs(self, method: str, *args: Any, **kwargs: Any) -> Any:
        call: Callable[[], Any] = functools.partial(getattr(self.bbs, method), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def _bbs_retrying(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call the BBS treats as idempotent for the same instance key (claim, start): a timed
        out attempt may have been applied, so it is sent again rather than given up, which would
        leave the row CLAIMED with no container until bulk sync and convergence notice."""
        for attempt in range(IDEMPOTENT_ATTEMPTS):
            try:
                return await self._bbs(method, *args, **kwargs)
            except (BBSTimeoutError, BBSConnectionError):
                if attempt == IDEMPOTENT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro)

    def start_loops(self) -> None:
        """The bulk sync loop; the presence is refreshed by the host (``presence.PresenceRefresher``)."""
        self._loops = [self._spawn(self._every(self.config.timing.rep_poll_interval, self.bulk_sync,
                                               first_delay=True))]

    async def _every(self, interval: float, action: Callable[[], Any], first_delay: bool = False) -> None:
        if first_delay:
            await asyncio.sleep(interval)
        while True:
            try:
                await action()
            except Exception as e:  # the loop must outlive a BBS outage
                self.logger.error(f"{getattr(action, '__name__', 'loop')}.failed", e)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop everything locally; the BBS is told nothing."""
        for loop_task in self._loops:
            loop_task.cancel()
        for c in list(self.lrps.values()):
            if c.lifecycle is not None:
                c.lifecycle.cancel()
            if c.listener is not None:
                c.listener.close()
        for t in list(self.tasks.values()):
            if t.lifecycle is not None:
                t.lifecycle.cancel()
        for pool in self._owned_pools:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ presence and state

    def presence(self) -> models.CellPresence:
        """The presence Diego's rep builds (``models.NewCellPresence``): ``rep_address`` its admin
        listener, ``rep_url`` its securable one."""
        c = self.config
        return new_cell_presence(
            c.cell_id, self.admin_url or self.rep_url, self.rep_url, c.zone, memory_mb=c.capacity.memory_mb,
            disk_mb=c.capacity.disk_mb, containers=c.capacity.containers, rootfs_providers=["docker"],
            preloaded_rootfses=STACKS, placement_tags=c.placement_tags,
            optional_placement_tags=c.optional_placement_tags)

    async def heartbeat(self) -> None:
        """Lock the presence in Locket now (the first registration), on the presence's thread."""
        await asyncio.get_running_loop().run_in_executor(
            self._presence_pool, self.presence_keeper.keep, self.presence())

    async def release_presence(self) -> None:
        """Give the presence up (a rep being stopped does); the cell leaves the BBS's cells."""
        await asyncio.get_running_loop().run_in_executor(self._presence_pool, self.presence_keeper.release)

    def starting_container_count(self) -> int:
        return (sum(1 for c in self.lrps.values() if c.state != RUNNING)
                + sum(1 for t in self.tasks.values() if t.state != RUNNING))

    def state(self) -> CellState:
        """``GET /state``: the rep's ``CellState``. Containers not running yet count as starting
        and report CLAIMED, as the rep reports reserved, initializing and created containers."""
        c = self.config
        return CellState(
            rep_url=self.rep_url, cell_id=c.cell_id, cell_index=c.cell_index,
            rootfs_providers=ROOTFS_PROVIDERS,
            available=_resources(self.ledger.available()), total=_resources(c.capacity),
            lrps=tuple(x.to_rep() for x in self.lrps.values()),
            tasks=tuple(t.to_rep() for t in self.tasks.values()),
            starting_container_count=self.starting_container_count(), zone=c.zone, evacuating=self.evacuating,
            placement_tags=c.placement_tags, optional_placement_tags=c.optional_placement_tags)

    # ------------------------------------------------------------------ work from the auctioneer

    def perform(self, work: Work) -> Work:
        """``POST /work``: reserve what fits and start it in the background; return the work that
        did not fit. As Diego's rep: work for another cell is an error, an evacuating cell takes
        nothing, LRPs are tried biggest memory first."""
        session = self.logger.session("auction-work", lrp_starts=len(work.lrps or ()),
                                      tasks=len(work.tasks or ()), cell_id=work.cell_id)
        if work.cell_id and work.cell_id != self.config.cell_id:
            session.error("cell-id-mismatch", "workload cell ID does not match this cell")
            raise CellIdMismatch(f"work for cell {work.cell_id!r} sent to {self.config.cell_id!r}")
        if self.evacuating:
            session.info("evacuating")
            return work
        failed_lrps: list[rep_models.LRP] = []
        failed_tasks: list[rep_models.Task] = []
        for lrp in sorted(work.lrps or (), key=lambda x: -x.memory_mb):
            if self.ledger.shortfall(lrp.memory_mb, lrp.disk_mb):
                failed_lrps.append(lrp)
                continue
            c = self._lrp_container(lrp)
            self.ledger.reserve(c.memory_mb, c.disk_mb)
            self.lrps[c.instance_guid] = c
            c.lifecycle = self._spawn(self._run_lrp(c))
        for task in work.tasks or ():
            if self.ledger.shortfall(task.memory_mb, task.disk_mb) or task.task_guid in self.tasks:
                failed_tasks.append(task)
                continue
            t = TaskContainer(task_guid=task.task_guid, domain=task.domain, memory_mb=task.memory_mb,
                              disk_mb=task.disk_mb, root_fs=task.root_fs, placement_tags=task.placement_tags,
                              volume_drivers=task.volume_drivers, max_pids=task.max_pids)
            self.ledger.reserve(t.memory_mb, t.disk_mb)
            self.tasks[t.task_guid] = t
            t.lifecycle = self._spawn(self._run_task(t))
        session.info("success", failed_lrps=len(failed_lrps), failed_tasks=len(failed_tasks))
        return Work(lrps=tuple(failed_lrps) or None, tasks=tuple(failed_tasks) or None)

    def _lrp_container(self, lrp: rep_models.LRP) -> LRPContainer:
        return LRPContainer(process_guid=lrp.process_guid, index=lrp.index, domain=lrp.domain,
                            instance_guid=str(uuid.uuid4()), cell_id=self.config.cell_id,
                            memory_mb=lrp.memory_mb, disk_mb=lrp.disk_mb, root_fs=lrp.root_fs,
                            placement_tags=lrp.placement_tags, volume_drivers=lrp.volume_drivers,
                            max_pids=lrp.max_pids)

    def _forget_lrp(self, c: LRPContainer) -> None:
        """Close the port and give the resources back; idempotent."""
        if self.lrps.pop(c.instance_guid, None) is None:
            return
        self._ended[c.instance_guid] = time.monotonic()
        if c.listener is not None:
            c.listener.close()
            c.listener = None
        if c.host_port is not None:
            self.ports_in_use.discard(c.host_port)
        self.ledger.release(c.memory_mb, c.disk_mb)
        if not any(x.process_guid == c.process_guid for x in self.lrps.values()):
            self._desired.pop(c.process_guid, None)

    def _forget_task(self, t: TaskContainer) -> None:
        if self.tasks.pop(t.task_guid, None) is None:
            return
        self._ended[t.task_guid] = time.monotonic()
        self.ledger.release(t.memory_mb, t.disk_mb)

    async def _desired_lrp(self, process_guid: str) -> models.DesiredLRP:
        """One fetch per process, shared by every instance starting at the same time."""
        pending = self._desired.get(process_guid)
        if pending is None:
            pending = asyncio.ensure_future(self._bbs("desired_lrp_by_process_guid", process_guid))
            self._desired[process_guid] = pending
        try:
            return await asyncio.shield(pending)
        except Exception:
            if self._desired.get(process_guid) is pending:
                del self._desired[process_guid]
            raise

    async def _create_container(self) -> float:
        seconds = self.config.container_model.sample(self.rng, self.config.timing.time_scale)
        if seconds > 0:
            await asyncio.sleep(seconds)
        self.container_creation_duration = seconds
        return seconds

    async def _run_lrp(self, c: LRPContainer) -> None:
        log = self.logger.session("lrp-instance", process_guid=c.process_guid, index=c.index,
                                  instance_guid=c.instance_guid)
        try:
            log.info("claiming")
            await self._bbs_retrying("claim_actual_lrp", c.process_guid, c.index, c.instance_key)
            c.state, c.claimed_at = CLAIMED, time.monotonic()
            log.info("claimed")
            desired = await self._desired_lrp(c.process_guid)
            c.container_port = behaviour.container_port(desired)
            crash_in = behaviour.crash_after(desired, self.rng, self.config.crash_time_scale)
            log.info("creating-container")
            created_in = await self._create_container()
            log.info("running-container", creation_duration=created_in)
            c.host_port, c.listener = await open_listener(c, self.config.address, self.ports_in_use)
            await self._bbs_retrying("start_actual_lrp", c.key, c.instance_key, self._net_info(c),
                                     availability_zone=self.config.zone)
            c.state = RUNNING
            log.info("container-is-running", host_port=c.host_port)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("failed-to-start" if c.state == CLAIMED else "failed-to-claim", e)
            self._forget_lrp(c)
            return
        if crash_in is not None:
            await asyncio.sleep(crash_in)
            await self._crash(c, log)

    async def _crash(self, c: LRPContainer, log: Any) -> None:
        if c.listener is not None:  # the process exits: its port closes before anyone is told
            c.listener.close()
        log.info("crashed", reason=CRASH_REASON)
        try:
            await self._bbs("crash_actual_lrp", c.key, c.instance_key, CRASH_REASON)
        except Exception as e:
            log.error("failed-to-crash", e)
        self._forget_lrp(c)

    async def _run_task(self, t: TaskContainer) -> None:
        log = self.logger.session("task", task_guid=t.task_guid)
        cell_id = self.config.cell_id
        try:
            log.info("starting")
            if not await self._bbs("start_task", t.task_guid, cell_id):
                log.info("should-not-start")
                self._forget_task(t)
                return
            t.state, t.started_at = INITIALIZING, time.monotonic()
            task = await self._bbs("task_by_guid", t.task_guid)
            duration = behaviour.task_duration(task)
            await self._create_container()
            t.state = RUNNING
            log.info("running-container", duration=duration)
            if duration > 0:
                await asyncio.sleep(duration)
            await self._bbs("complete_task", t.task_guid, cell_id, failed=False, failure_reason="",
                            result=t.task_guid)
            log.info("completed")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("failed", e)
        self._forget_task(t)

    # ------------------------------------------------------------------ stop and cancel (rep API)

    def stop_lrp(self, process_guid: str, instance_guid: str) -> bool:
        c = self.lrps.get(instance_guid)
        if c is None or c.process_guid != process_guid:
            return False
        self._spawn(self._stop_lrp(c))
        return True

    async def _stop_lrp(self, c: LRPContainer) -> None:
        log = self.logger.session("stop-lrp-instance", process_guid=c.process_guid, index=c.index,
                                  instance_guid=c.instance_guid)
        if c.lifecycle is not None:
            c.lifecycle.cancel()
        claimed = c.state != RESERVED
        self._forget_lrp(c)
        log.info("stopped")
        if claimed:
            try:
                await self._bbs("remove_actual_lrp", c.process_guid, c.index, c.instance_key)
                log.info("removed")
            except Exception as e:
                log.error("failed-to-remove", e)

    def cancel_task(self, task_guid: str) -> bool:
        t = self.tasks.get(task_guid)
        if t is None:
            return False
        if t.lifecycle is not None:
            t.lifecycle.cancel()
        self._forget_task(t)
        self.logger.session("cancel-task", task_guid=task_guid).info("cancelled")
        return True

    def update_lrp(self, process_guid: str, instance_guid: str, update: LRPUpdate) -> bool:
        """``UpdateLRPInstance``: the instance's internal routes and metric tags; False when this
        cell has no such instance (the rep's executor answers "container not found")."""
        c = self.lrps.get(instance_guid)
        if c is None or c.process_guid != process_guid:
            return False
        if update.internal_routes is not None:
            c.internal_routes = update.internal_routes
        if update.metric_tags is not None:
            c.metric_tags = dict(update.metric_tags)
        self.logger.session("handling-update-lrp-instance", process_guid=process_guid,
                            instance_guid=instance_guid).info("updated")
        return True

    # ------------------------------------------------------------------ evacuation

    async def evacuate(self) -> None:
        """Diego's evacuation (``evacuation.Evacuator`` with the evacuation LRP processor): take no
        more work, then every polling interval hand each LRP instance over: a running one with
        EvacuateRunningActualLRP (its container stays until the BBS says its replacement runs),
        one not running yet with EvacuateClaimedActualLRP; Tasks run to their end. Done when no
        container is left, or given up at the evacuation timeout."""
        if self.evacuating:
            return
        self.evacuating = True
        loop = asyncio.get_running_loop()
        session = self.logger.session("evacuating")
        session.info("started", lrps=len(self.lrps), tasks=len(self.tasks))
        deadline = loop.time() + self.config.evacuation_timeout
        while True:
            await self._evacuate_lrps(session)
            if not self.lrps and not self.tasks:
                session.info("succeeded")
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                session.error("failed-to-evacuate-before-timeout", None, lrps=len(self.lrps),
                              tasks=len(self.tasks))
                return
            session.info("evacuation-incomplete", lrps=len(self.lrps), tasks=len(self.tasks))
            await asyncio.sleep(min(self.config.timing.evacuation_polling_interval, remaining))

    async def _evacuate_lrps(self, session: Any) -> None:
        async def hand_over(c: LRPContainer) -> None:
            try:
                if c.state == RUNNING and c.host_port is not None:
                    keep = await self._bbs("evacuate_running_actual_lrp", c.key, c.instance_key,
                                           self._net_info(c), metric_tags=c.metric_tags,
                                           availability_zone=self.config.zone)
                    if keep:
                        return
                elif c.state != RESERVED:
                    await self._bbs("evacuate_claimed_actual_lrp", c.key, c.instance_key)
            except Exception as e:  # tried again at the next poll
                session.error("failed-to-evacuate-actual-lrp", e, process_guid=c.process_guid, index=c.index)
                return
            if c.lifecycle is not None:
                c.lifecycle.cancel()
            self._forget_lrp(c)

        await asyncio.gather(*(hand_over(c) for c in list(self.lrps.values())))

    async def fail_tasks(self, reason: str = SHUTDOWN_REASON) -> None:
        """Complete every started Task as failed (a cell going away for good); unstarted ones are
        dropped, and the BBS auctions them again."""
        session = self.logger.session("failing-tasks")
        calls = []
        for t in list(self.tasks.values()):
            if t.lifecycle is not None:
                t.lifecycle.cancel()
            if t.started_at is not None:
                calls.append(self._bbs("complete_task", t.task_guid, self.config.cell_id, failed=True,
                                       failure_reason=reason, result=""))
            self._forget_task(t)
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, Exception):
                session.error("failed-to-fail-task", outcome)

    # ------------------------------------------------------------------ bulk sync

    async def bulk_sync(self) -> None:
        """Reconcile this cell's containers with what the BBS says is on it.

        - a running container whose ActualLRP is gone or UNCLAIMED is started again (Diego's rep
          rule: a purged BBS must not shut down running apps); one the BBS places elsewhere, or
          a container not yet running whose row is gone or CRASHED, is stopped and released;
        - a CLAIMED row whose container is already running is started again;
        - a CLAIMED/RUNNING row here with no container is removed (RemoveActualLRP);
        - a task no longer RUNNING here (cancelled, deleted) is stopped; a RUNNING task here with no
          container is completed as failed.
        Containers claimed or started after the sync began are left to the next one.
        """
        if self.evacuating:  # the evacuation loop hands every instance over instead
            return
        began = time.monotonic()
        session = self.logger.session("bulk-sync")
        session.info("starting")
        cell_id = self.config.cell_id
        actual = await self._bbs("actual_lrps", cell_id=cell_id)
        tasks = await self._bbs("tasks", cell_id=cell_id)
        rows = {a.actual_lrp_instance_key.instance_guid: a for a in actual
                if a.actual_lrp_instance_key.cell_id == cell_id and a.presence != models.ActualLRP.EVACUATING}
        calls = []
        for c in list(self.lrps.values()):
            if c.claimed_at is None or c.claimed_at > began:
                continue
            row = rows.get(c.instance_guid)
            if row is None and c.state == RUNNING and c.host_port is not None:
                calls.append(self._readopt(c, session))
            elif row is None or row.state not in ("CLAIMED", "RUNNING"):
                self._stop_unknown(c, session)
            elif row.state == "CLAIMED" and c.state == RUNNING and c.host_port is not None:
                calls.append(self._bbs("start_actual_lrp", c.key, c.instance_key, self._net_info(c),
                                       availability_zone=self.config.zone))
        for guid, row in rows.items():
            if guid in self.lrps or guid in self._ended:
                continue
            if row.state in ("CLAIMED", "RUNNING"):
                session.info("removing-missing-instance", instance_guid=guid)
                calls.append(self._bbs("remove_actual_lrp", row.actual_lrp_key.process_guid,
                                       row.actual_lrp_key.index, row.actual_lrp_instance_key))
        by_guid = {t.task_guid: t for t in tasks}
        for t in list(self.tasks.values()):
            if t.started_at is None or t.started_at > began:
                continue
            row = by_guid.get(t.task_guid)
            if row is None or row.state != models.Task.Running or row.cell_id != cell_id:
                session.info("stopping-unknown-task", task_guid=t.task_guid)
                if t.lifecycle is not None:
                    t.lifecycle.cancel()
                self._forget_task(t)
        for guid, row in by_guid.items():
            if guid in self.tasks or guid in self._ended or row.state != models.Task.Running:
                continue
            session.info("failing-missing-task", task_guid=guid)
            calls.append(self._bbs("complete_task", guid, cell_id, failed=True,
                                   failure_reason=MISSING_TASK_CONTAINER, result=""))
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, Exception):
                session.error("reconcile-call-failed", outcome)
        self._ended = {g: t for g, t in self._ended.items()
                       if t > began - 2 * self.config.timing.rep_poll_interval}
        self.bulk_sync_duration = time.monotonic() - began
        session.info("finished", duration=self.bulk_sync_duration,
                     containers=len(self.lrps) + len(self.tasks))

    def _net_info(self, c: LRPContainer) -> models.ActualLRPNetInfo:
        return models.ActualLRPNetInfo(
            address=self.config.address, instance_address=self.config.address,
            preferred_address=models.ActualLRPNetInfo.HOST,
            ports=[models.PortMapping(container_port=c.container_port, host_port=c.host_port)])

    def _stop_unknown(self, c: LRPContainer, session: Any, **data: Any) -> None:
        session.info("stopping-unknown-instance", instance_guid=c.instance_guid, **data)
        if c.lifecycle is not None:
            c.lifecycle.cancel()
        self._forget_lrp(c)

    async def _readopt(self, c: LRPContainer, session: Any) -> None:
        """A running container whose ActualLRP the BBS no longer has on this cell.

        Diego's rep never lets a missing ActualLRP shut down a running container, because the
        BBS may have been purged (a wiped database node must not take every app down with it):
        it starts the ActualLRP again, which creates it or moves an UNCLAIMED one to RUNNING. Only
        when the BBS refuses (the instance runs elsewhere) is the container stopped.
        """
        try:
            await self._bbs("start_actual_lrp", c.key, c.instance_key, self._net_info(c),
                            availability_zone=self.config.zone)
        except BBSError as e:
            self._stop_unknown(c, session, reason=e.type)
        else:
            session.info("restarted-missing-actual-lrp", instance_guid=c.instance_guid,
                         process_guid=c.process_guid)

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, float]:
        available = self.ledger.available()
        return {
            "RepBulkSyncDuration": self.bulk_sync_duration,
            "ContainerCount": len(self.lrps) + len(self.tasks),
            "StartingContainerCount": self.starting_container_count(),
            "CapacityRemainingMemory": available.memory_mb,
            "CapacityRemainingDisk": available.disk_mb,
            "CapacityRemainingContainers": available.containers,
            "GardenContainerCreationSucceededDuration": self.container_creation_duration,
        }

    def exposition(self) -> bytes:
        """The rep's metrics as the metrics agent publishes them: ``source_id="rep"``, this cell's id
        as ``instance_id``, ``zone`` on capacity (points built by hand: prometheus_client would cost
        every one of 100 cells a slower start for seven numbers)."""
        zone = {"zone": self.config.zone}
        return render(Publisher("rep", self.config.cell_id, ip=self.config.address),
                      [Point(name, "gauge", value, zone if name.startswith("Capacity") else {})
                       for name, value in self.metrics().items()])

