"""The containers a cell holds: one per ActualLRP instance or Task, from reservation to removal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.bbs import models
from pytest_diego.cluster.cell.http import Listener

RESERVED, CLAIMED, RUNNING = "reserved", "claimed", "running"


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
    state: str = RESERVED
    claimed_at: float | None = None  # monotonic; bulk sync leaves younger claims alone
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

    def to_state(self) -> dict[str, Any]:
        return {"process_guid": self.process_guid, "index": self.index, "instance_guid": self.instance_guid,
                "memory_mb": self.memory_mb, "disk_mb": self.disk_mb, "state": self.state}


@dataclass(eq=False)
class TaskContainer:
    """A Task on this cell: reserved until StartTask says run, then running until completed."""

    task_guid: str
    domain: str
    memory_mb: int
    disk_mb: int
    state: str = RESERVED
    started_at: float | None = None  # monotonic, when StartTask succeeded
    lifecycle: asyncio.Task[Any] | None = None

    def to_state(self) -> dict[str, Any]:
        return {"task_guid": self.task_guid, "memory_mb": self.memory_mb, "disk_mb": self.disk_mb,
                "state": self.state}
