"""The BBS's cell-side routes kept in memory, an in-process cell serving the real rep API, and
what the tests send a cell and read back from it.

Imported by this directory's conftest and tests (a plain module, not a conftest, so tests can
import its classes by name).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSError
from pytest_diego.cluster.cell.api import admin_handler, rep_handler
from pytest_diego.cluster.cell.container_model import ContainerModel
from pytest_diego.cluster.cell.http import Listener, serve
from pytest_diego.cluster.cell.ledger import Capacity
from pytest_diego.cluster.cell.rep import CellConfig, Rep
from pytest_diego.cluster.cell.tls import CellCertificates
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.rep import models as rep_models

_addresses = itertools.count(1)


class CellSideBBS:
    """The ``BBSClient`` methods a cell calls, answered from memory: keeps ActualLRPs and Tasks
    like the BBS does for one cell's calls, and records every call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.actual: dict[tuple[str, int], models.ActualLRP] = {}
        self.desired: dict[str, models.DesiredLRP] = {}
        self.task_rows: dict[str, models.Task] = {}
        self.refuse_claims = False
        self.keep_evacuated = True  # what EvacuateRunningActualLRP answers (keep_container)

    def _record(self, name: str, *args: Any) -> None:
        with self.lock:
            self.calls.append((name, args))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [args for n, args in self.calls if n == name]

    def desire(self, process_guid: str, instances: int = 1, **fields: Any) -> None:
        self.desired[process_guid] = models.DesiredLRP(process_guid=process_guid, domain="d",
                                                       instances=instances, **fields)
        for i in range(instances):
            self.actual[(process_guid, i)] = models.ActualLRP(
                actual_lrp_key=models.ActualLRPKey(process_guid=process_guid, index=i, domain="d"),
                state="UNCLAIMED")

    def desire_task(self, task_guid: str, definition: models.TaskDefinition | None = None) -> None:
        self.task_rows[task_guid] = models.Task(task_guid=task_guid, domain="d", state=models.Task.Pending,
                                            task_definition=definition or models.TaskDefinition())

    # --- the BBSClient methods a cell calls
    def claim_actual_lrp(self, process_guid: str, index: int,
                         instance_key: models.ActualLRPInstanceKey) -> None:
        self._record("claim_actual_lrp", process_guid, index, instance_key)
        if self.refuse_claims:
            raise BBSError("ActualLRPCannotBeClaimed", "cannot claim")
        lrp = self.actual[(process_guid, index)]
        lrp.state = "CLAIMED"
        lrp.actual_lrp_instance_key.CopyFrom(instance_key)

    def desired_lrp_by_process_guid(self, process_guid: str) -> models.DesiredLRP:
        self._record("desired_lrp_by_process_guid", process_guid)
        return self.desired[process_guid]

    def start_actual_lrp(self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey,
                         net_info: models.ActualLRPNetInfo, **kw: Any) -> None:
        self._record("start_actual_lrp", key, instance_key, net_info)
        lrp = self.actual.get((key.process_guid, key.index))
        if lrp is None:  # Diego's BBS creates a missing ActualLRP on start
            lrp = self.actual[(key.process_guid, key.index)] = models.ActualLRP(actual_lrp_key=key)
        elif lrp.state == "RUNNING" and lrp.actual_lrp_instance_key != instance_key:
            raise BBSError("ActualLRPCannotBeStarted", "running as another instance")
        lrp.state = "RUNNING"
        lrp.actual_lrp_instance_key.CopyFrom(instance_key)
        lrp.actual_lrp_net_info.CopyFrom(net_info)

    def crash_actual_lrp(self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey,
                         error_message: str) -> None:
        self._record("crash_actual_lrp", key, instance_key, error_message)
        lrp = self.actual[(key.process_guid, key.index)]
        lrp.state, lrp.crash_count, lrp.crash_reason = "UNCLAIMED", lrp.crash_count + 1, error_message
        lrp.ClearField("actual_lrp_instance_key")

    def remove_actual_lrp(self, process_guid: str, index: int,
                          instance_key: models.ActualLRPInstanceKey) -> None:
        self._record("remove_actual_lrp", process_guid, index, instance_key)
        self.actual.pop((process_guid, index), None)

    def actual_lrps(self, cell_id: str | None = None, **_: Any) -> list[models.ActualLRP]:
        self._record("actual_lrps", cell_id)
        return [a for a in self.actual.values() if a.actual_lrp_instance_key.cell_id == cell_id]

    def start_task(self, task_guid: str, cell_id: str) -> bool:
        self._record("start_task", task_guid, cell_id)
        task = self.task_rows[task_guid]
        if task.state != models.Task.Pending:
            return False
        task.state, task.cell_id = models.Task.Running, cell_id
        return True

    def task_by_guid(self, task_guid: str) -> models.Task:
        self._record("task_by_guid", task_guid)
        return self.task_rows[task_guid]

    def complete_task(self, task_guid: str, cell_id: str, failed: bool, failure_reason: str = "",
                      result: str = "") -> None:
        self._record("complete_task", task_guid, cell_id, failed, failure_reason, result)
        task = self.task_rows[task_guid]
        task.state, task.failed, task.failure_reason, task.result = (models.Task.Completed, failed,
                                                                      failure_reason, result)

    def evacuate_running_actual_lrp(self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey,
                                    net_info: models.ActualLRPNetInfo, **kw: Any) -> bool:
        self._record("evacuate_running_actual_lrp", key, instance_key, net_info)
        return self.keep_evacuated

    def evacuate_claimed_actual_lrp(self, key: models.ActualLRPKey,
                                    instance_key: models.ActualLRPInstanceKey) -> bool:
        self._record("evacuate_claimed_actual_lrp", key, instance_key)
        return False

    def tasks(self, cell_id: str | None = None, **_: Any) -> list[models.Task]:
        self._record("tasks", cell_id)
        return [t for t in self.task_rows.values() if t.cell_id == cell_id]


class FakePresence:
    """The presence keeper's interface, recording each presence the cell keeps (Locket is tested
    with the real keeper in test_presence_keeper.py)."""

    def __init__(self) -> None:
        self.presences: list[models.CellPresence] = []
        self.released = 0

    def keep(self, presence: models.CellPresence) -> bool:
        self.presences.append(presence)
        return True

    def release(self) -> None:
        self.released += 1


@dataclass
class RunningCell:
    rep: Rep
    bbs: CellSideBBS
    presence: FakePresence
    url: str  # the securable listener: the rep API
    admin_url: str  # ping, evacuate, metrics
    address: str
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the cell's loop from the test thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn: Any, *args: Any) -> Any:
        async def wrapper() -> Any:
            return fn(*args)
        return self.call(wrapper())


def start_cell(tmp_path: Path, bbs: CellSideBBS, tls: CellCertificates | None = None,
               **config: Any) -> Iterator[RunningCell]:
    address = f"127.1.200.{next(_addresses)}"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    logger = Logger("rep", tmp_path / "cell.log")
    settings = {"capacity": Capacity(1024, 2048, 4), "timing": Timing(1.0),
                "container_model": ContainerModel("zero"), **config}
    presence = FakePresence()
    rep = Rep(CellConfig(cell_id="cell-0", zone="z0", address=address, **settings), bbs, logger, presence)

    async def begin() -> list[Listener]:
        context = tls.server_context("cell-0", address) if tls else None
        secure = await serve(rep_handler(rep), address, 0, tls=context)
        admin = await serve(admin_handler(rep, lambda: rep._spawn(rep.evacuate())), address, 0)
        scheme = "https" if context else "http"
        rep.rep_url, rep.admin_url = f"{scheme}://{address}:{secure.port}", f"http://{address}:{admin.port}"
        return [secure, admin]

    servers = asyncio.run_coroutine_threadsafe(begin(), loop).result(5)
    cell = RunningCell(rep, bbs, presence, rep.rep_url, rep.admin_url, address, loop)
    yield cell

    async def end() -> None:
        for server in servers:
            server.close()
        await rep.close()

    asyncio.run_coroutine_threadsafe(end(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    logger.close()


def lrp_work(guid: str, index: int, memory_mb: int = 128, disk_mb: int = 256) -> rep_models.LRP:
    """One LRP start of the auctioneer's ``/work`` body (Diego's ``rep.LRP``)."""
    return rep_models.LRP(process_guid=guid, index=index, domain="d", memory_mb=memory_mb, disk_mb=disk_mb,
                          root_fs="preloaded:cflinuxfs4", placement_tags=())


def task_work(guid: str, memory_mb: int = 64) -> rep_models.Task:
    """One Task of the auctioneer's ``/work`` body (Diego's ``rep.Task``)."""
    return rep_models.Task(task_guid=guid, domain="d", memory_mb=memory_mb, disk_mb=64,
                           root_fs="preloaded:cflinuxfs4", placement_tags=())


def post_work(cell: RunningCell, lrps: Iterable[rep_models.LRP] = (),
              tasks: Iterable[rep_models.Task] = ()) -> rep_models.Work:
    """POST ``/work`` as the auctioneer does; the cell's answer is the work it hands back."""
    work = rep_models.Work(lrps=tuple(lrps), tasks=tuple(tasks), cell_id="cell-0")
    r = requests.post(f"{cell.url}/work", data=rep_models.encode(work.to_json()), timeout=5)
    assert r.status_code == 200
    return rep_models.Work.from_json(r.json())


def state(cell: RunningCell) -> rep_models.CellState:
    """The cell's ``/state``, as the auctioneer reads it."""
    return rep_models.CellState.from_json(requests.get(f"{cell.url}/state", timeout=5).json())


def available(cell: RunningCell) -> tuple[int, int, int]:
    """The cell's available memory, disk and containers."""
    r = state(cell).available
    return r.memory_mb, r.disk_mb, r.containers


def running(bbs: CellSideBBS, guid: str, index: int) -> models.ActualLRP | None:
    """The ActualLRP ``guid``/``index`` if it is RUNNING."""
    lrp = bbs.actual.get((guid, index))
    return lrp if lrp is not None and lrp.state == "RUNNING" else None
