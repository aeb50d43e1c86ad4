"""The simulated rep: takes work from the auctioneer and drives it through the BBS cell-side routes.

Everything runs on one asyncio event loop (rep API, instance listeners, timers); the blocking
``BBSClient`` calls go through a small thread pool, so a cell costs one process, a few threads and
next to no CPU while idle. What happens to work, in Diego's order:

- **LRP**: reserve (in ``/work``) -> ClaimActualLRP (CLAIMED) -> DesiredLRP (cached) -> create the
  container (container model) -> listen on the next host port from 61001 -> StartActualLRP
  (RUNNING). A crashing app (``behaviour.crash_after``) closes its port, CrashActualLRP, release.
  ``stop``: close the port, RemoveActualLRP, release.
- **Task**: reserve -> StartTask (RUNNING; ``should_start`` false: release) -> Task -> create +
  run (``behaviour.task_duration``) -> CompleteTask(result=task_guid) -> release. ``cancel``:
  stop and release.
- **Bulk sync** every ``rep_poll_interval``: reconcile with ``actual_lrps(cell_id)`` and
  ``tasks(cell_id)`` (see :meth:`Rep.bulk_sync`).
- **Presence**: ``upsert_cell_presence`` every ``presence_refresh``.

A SIGKILL needs no code: presence stops, listeners close with the process. A SIGTERM closes the
listeners and tells the BBS nothing, like a VM that goes away.
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
from pytest_diego.cluster.cell.containers import CLAIMED, RESERVED, RUNNING, LRPContainer, TaskContainer
from pytest_diego.cluster.cell.instance_server import open_listener
from pytest_diego.cluster.cell.ledger import Capacity, Ledger
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger

CRASH_REASON = "APP/PROC/WEB: Exited with status 1"
MISSING_TASK_CONTAINER = "task container does not exist"
STACKS = ("cflinuxfs3", "cflinuxfs4")
IDEMPOTENT_ATTEMPTS = 3


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


class Rep:
    """One cell's rep: its containers, its capacity and its conversations with the BBS."""

    def __init__(self, config: CellConfig, bbs: Any, logger: Logger, rep_url: str = "",
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.bbs = bbs
        self.logger = logger
        self.rep_url = rep_url
        self.rng = rng or random.Random()
        self.ledger = Ledger(config.capacity)
        self.lrps: dict[str, LRPContainer] = {}  # by instance_guid
        self.tasks: dict[str, TaskContainer] = {}  # by task_guid
        self.ports_in_use: set[int] = set()
        self._ended: dict[str, float] = {}  # instance/task guid -> monotonic time it left this cell
        self._desired: dict[str, asyncio.Future[models.DesiredLRP]] = {}
        self._pool = ThreadPoolExecutor(max_workers=config.bbs_workers, thread_name_prefix="bbs")
        # presence has a thread of its own: queued behind a burst of claims and starts it could
        # miss its TTL, and the BBS would call the cell lost while it is only busy
        self._presence_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="presence")
        self._loops: list[asyncio.Task[Any]] = []
        self.bulk_sync_duration = 0.0
        self.container_creation_duration = 0.0

    # ------------------------------------------------------------------ plumbing

    async def _bbs(self, method: str, *args: Any, **kwargs: Any) -> Any:
        call: Callable[[], Any] = functools.partial(getattr(self.bbs, method), *args, **kwargs)
        pool = self._presence_pool if method == "upsert_cell_presence" else self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, call)

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
        self._loops = [self._spawn(self._every(self.config.timing.presence_refresh, self.heartbeat)),
                       self._spawn(self._every(self.config.timing.rep_poll_interval, self.bulk_sync,
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
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._presence_pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ presence and state

    def presence(self) -> models.CellPresence:
        c = self.config
        return models.CellPresence(
            cell_id=c.cell_id, rep_address=self.rep_url, rep_url=self.rep_url, zone=c.zone,
            capacity=models.CellCapacity(memory_mb=c.capacity.memory_mb, disk_mb=c.capacity.disk_mb,
                                         containers=c.capacity.containers),
            rootfs_providers=[models.Provider(name="preloaded", properties=list(STACKS)),
                              models.Provider(name="docker")],
            placement_tags=list(c.placement_tags), optional_placement_tags=list(c.optional_placement_tags))

    async def heartbeat(self) -> None:
        await self._bbs("upsert_cell_presence", self.presence())

    def starting_container_count(self) -> int:
        return (sum(1 for c in self.lrps.values() if c.state != RUNNING)
                + sum(1 for t in self.tasks.values() if t.state != RUNNING))

    def state(self) -> dict[str, Any]:
        c = self.config
        return {
            "cell_id": c.cell_id, "zone": c.zone, "rep_url": self.rep_url,
            "total_resources": c.capacity.to_json(),
            "available_resources": self.ledger.available().to_json(),
            "lrps": [x.to_state() for x in self.lrps.values()],
            "tasks": [t.to_state() for t in self.tasks.values()],
            "starting_container_count": self.starting_container_count(),
            "rootfs_providers": ["preloaded", "docker"],
            "placement_tags": list(c.placement_tags),
            "optional_placement_tags": list(c.optional_placement_tags),
            "evacuating": False,
        }

    # ------------------------------------------------------------------ work from the auctioneer

    def perform(self, work: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Reserve what fits and start it in the background; return what did not fit.

        Every entry is read before anything is reserved, so a malformed request changes nothing.
        """
        session = self.logger.session("auction-perform-work")
        lrps = [self._lrp_container(x) for x in work.get("lrps") or ()]
        tasks = [TaskContainer(task_guid=x["task_guid"], domain=x.get("domain", ""),
                               memory_mb=int(x.get("memory_mb", 0)), disk_mb=int(x.get("disk_mb", 0)))
                 for x in work.get("tasks") or ()]
        session.info("handling", lrps=len(lrps), tasks=len(tasks))
        failed: dict[str, list[dict[str, Any]]] = {"lrps": [], "tasks": []}
        for entry, c in zip(work.get("lrps") or (), lrps, strict=True):
            short = self.ledger.shortfall(c.memory_mb, c.disk_mb)
            if short:
                error = "insufficient resources: " + ", ".join(short)
                failed["lrps"].append({**entry, "placement_error": error})
                continue
            self.ledger.reserve(c.memory_mb, c.disk_mb)
            self.lrps[c.instance_guid] = c
            c.lifecycle = self._spawn(self._run_lrp(c))
        for entry, t in zip(work.get("tasks") or (), tasks, strict=True):
            short = self.ledger.shortfall(t.memory_mb, t.disk_mb)
            if short or t.task_guid in self.tasks:
                error = "insufficient resources: " + ", ".join(short) if short else "task already on cell"
                failed["tasks"].append({**entry, "placement_error": error})
                continue
            self.ledger.reserve(t.memory_mb, t.disk_mb)
            self.tasks[t.task_guid] = t
            t.lifecycle = self._spawn(self._run_task(t))
        session.info("success", failed_lrps=len(failed["lrps"]), failed_tasks=len(failed["tasks"]))
        return failed

    def _lrp_container(self, entry: dict[str, Any]) -> LRPContainer:
        return LRPContainer(process_guid=entry["process_guid"], index=int(entry["index"]),
                            domain=entry.get("domain", ""), instance_guid=str(uuid.uuid4()),
                            cell_id=self.config.cell_id, memory_mb=int(entry.get("memory_mb", 0)),
                            disk_mb=int(entry.get("disk_mb", 0)))

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
        seconds = self.config.container_model.sample(self.rng)
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
            t.state, t.started_at = RUNNING, time.monotonic()
            task = await self._bbs("task_by_guid", t.task_guid)
            duration = behaviour.task_duration(task)
            await self._create_container()
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


def metrics_text(values: dict[str, float]) -> bytes:
    """Prometheus text exposition of gauges (written by hand: prometheus_client would cost every
    one of 100 cells a slower start for seven numbers)."""
    lines = []
    for name, value in values.items():
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name} {float(value)!r}")
    return ("\n".join(lines) + "\n").encode()

