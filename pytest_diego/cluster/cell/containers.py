"""The containers a cell holds: one per ActualLRP instance or Task, from reservation to removal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.bbs import models
from pytest_diego.cluster.cell.http import Listener
from pytest_diego.rep import models as rep_models

RESERVED, CLAIMED, INITIALIZING, RUNNING = "reserved", "claimed", "initializing", "running"


@dataclass(eq=False)
class LRPContainer:
    """An ActualLRP instance on this cell: reserved -> claimed -> running, then gone."""

    process_guid: str
    index: int
    domain: str
    instance_guid: str
    cell_id: str
    memory_mb: int
    disk_mb: int
    root_fs: str = ""
    placement_tags: tuple[str, ...] | None = None
    volume_drivers: tuple[str, ...] | None = None
    max_pids: int = 0
    state: str = RESERVED
    claimed_at: float | None = None  # monotonic; bulk sync leaves younger claims alone
    metric_tags: dict[str, str] = field(default_factory=dict)  # from UpdateLRPInstance
    internal_routes: tuple[str, ...] = ()
    host_port: int | None = None
    container_port: int = 8080
    listener: Listener | None = None
    lifecycle: asyncio.Task[Any] | None = None
    created: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> models.ActualLRPKey:
        return models.ActualLRPKey(process_guid=self.process_guid, index=self.index, domain=self.domain)

    @property
    def instance_key(self) -> models.ActualLRPInstanceKey:
        return models.ActualLRPInstanceKey(instance_guid=self.instance_guid, cell_id=self.cell_id)

    def to_rep(self) -> rep_models.LRP:
        """As the rep lists it in /state: CLAIMED until its container runs."""
        return rep_models.LRP(process_guid=self.process_guid, index=self.index, domain=self.domain,
                              memory_mb=self.memory_mb, disk_mb=self.disk_mb, root_fs=self.root_fs,
                              instance_guid=self.instance_guid, placement_tags=self.placement_tags,
                              volume_drivers=self.volume_drivers, max_pids=self.max_pids,
                              state="RUNNING" if self.state == RUNNING else "CLAIMED")


@dataclass(eq=False)
class TaskContainer:
    """A Task on this cell: reserved until StartTask says run, initializing while its container is
    created, then running until completed."""

    task_guid: str
    domain: str
    memory_mb: int
    disk_mb: int
    root_fs: str = ""
    placement_tags: tuple[str, ...] | None = None
    volume_drivers: tuple[str, ...] | None = None
    max_pids: int = 0
    state: str = RESERVED
    started_at: float | None = None  # monotonic, when StartTask succeeded
    lifecycle: asyncio.Task[Any] | None = None

    def to_rep(self) -> rep_models.Task:
        """As the rep lists it in /state: Running while its container exists."""
        return rep_models.Task(task_guid=self.task_guid, domain=self.domain, memory_mb=self.memory_mb,
                               disk_mb=self.disk_mb, root_fs=self.root_fs, placement_tags=self.placement_tags,
                               volume_drivers=self.volume_drivers, max_pids=self.max_pids, state="Running")
