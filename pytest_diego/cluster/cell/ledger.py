"""A cell's capacity: what it has, what its containers hold, what is left.

Reservations happen when ``/work`` arrives (as the executor's container allocation does), and are
released when the container is gone, so the auctioneer's next ``GET /state`` sees the truth.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capacity:
    memory_mb: int = 32768
    disk_mb: int = 65536
    containers: int = 250

    def to_json(self) -> dict[str, int]:
        return {"memory_mb": self.memory_mb, "disk_mb": self.disk_mb, "containers": self.containers}


class Ledger:
    def __init__(self, total: Capacity) -> None:
        self.total = total
        self.memory_mb = total.memory_mb
        self.disk_mb = total.disk_mb
        self.containers = total.containers

    def shortfall(self, memory_mb: int, disk_mb: int) -> list[str]:
        """Which resources are short for this container (empty: it fits), in Diego's words."""
        short = []
        if self.disk_mb < disk_mb:
            short.append("disk")
        if self.memory_mb < memory_mb:
            short.append("memory")
        if self.containers < 1:
            short.append("containers")
        return short

    def reserve(self, memory_mb: int, disk_mb: int) -> None:
        self.memory_mb -= memory_mb
        self.disk_mb -= disk_mb
        self.containers -= 1

    def release(self, memory_mb: int, disk_mb: int) -> None:
        self.memory_mb = min(self.total.memory_mb, self.memory_mb + memory_mb)
        self.disk_mb = min(self.total.disk_mb, self.disk_mb + disk_mb)
        self.containers = min(self.total.containers, self.containers + 1)

    def available(self) -> Capacity:
        return Capacity(self.memory_mb, self.disk_mb, self.containers)
