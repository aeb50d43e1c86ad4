"""``ClusterConfig``: what an embedded cluster is made of, checked before anything starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CELL_ADDRESSES_PER_OCTET = 250
OWN_POSTGRES = "postgresql"
"""``db`` that makes the cluster run its own PostgreSQL server (``postgres.py``) under the BBS."""


class ClusterConfigError(ValueError):
    """A cluster setting that cannot work; the message says which and how to fix it."""


@dataclass(frozen=True)
class PlannedCell:
    """A cell's identity, fixed for the cluster's life: a restart keeps all three."""

    cell_id: str
    zone: str
    address: str


def cell_address(index: int) -> str:
    """Cell ``i``'s own loopback address, 127.1.<i // 250>.<i % 250 + 1> (docs/internals.md)."""
    return f"127.1.{index // CELL_ADDRESSES_PER_OCTET}.{index % CELL_ADDRESSES_PER_OCTET + 1}"


@dataclass
class ClusterConfig:
    """What to start. Capacities left None use the cell's defaults (Diego's 32 GiB / 64 GiB / 250)."""

    cells: int = 3
    db: str | None = None  # sqlite:///path, postgresql://... or OWN_POSTGRES; default <state_dir>/bbs.sqlite3
    tls: bool = False
    time_scale: float = 1.0
    state_dir: Path | str | None = None  # default: a new temp dir
    zones: int = 3
    cell_memory_mb: int | None = None
    cell_disk_mb: int | None = None
    cell_containers: int | None = None
    container_model: str | None = None  # the cell's --container-model SPEC
    start_timeout: float = 120.0

    def validate(self) -> None:
        if not isinstance(self.cells, int) or self.cells < 1:
            raise ClusterConfigError(f"cells must be a whole number >= 1, got {self.cells!r}")
        if self.cells > CELL_ADDRESSES_PER_OCTET * 255:
            raise ClusterConfigError(f"at most {CELL_ADDRESSES_PER_OCTET * 255} cells fit in 127.1.0.0/16")
        if not isinstance(self.zones, int) or self.zones < 1:
            raise ClusterConfigError(f"zones must be a whole number >= 1, got {self.zones!r}")
        if not self.time_scale > 0:
            raise ClusterConfigError(
                "time_scale must be > 0 (1 = Diego's intervals, 0.1 = ten times faster), "
                f"got {self.time_scale!r}"
            )
        if not self.start_timeout > 0:
            raise ClusterConfigError(f"start_timeout must be > 0 seconds, got {self.start_timeout!r}")
        for name in ("cell_memory_mb", "cell_disk_mb", "cell_containers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ClusterConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.db not in (None, OWN_POSTGRES) and not str(self.db).startswith(
                ("sqlite:///", "postgresql://", "postgres://")):
            raise ClusterConfigError(
                f"db {str(self.db).split('@')[-1]!r} has an unsupported scheme: use "
                "sqlite:///path/to/bbs.sqlite3, postgresql://user:password@host:port/dbname, or "
                f"{OWN_POSTGRES!r} for a PostgreSQL server the cluster runs itself"
            )

    def planned_cells(self) -> list[PlannedCell]:
        """cell-0..cell-N, spread round-robin over the zones, each on its own loopback address."""
        return [PlannedCell(f"cell-{i}", f"z{i % self.zones}", cell_address(i)) for i in range(self.cells)]

    def restart_settings(self) -> dict[str, object]:
        """What cluster.json keeps for restarts (a cell restarted later gets the same capacity)."""
        return {"cell_memory_mb": self.cell_memory_mb, "cell_disk_mb": self.cell_disk_mb,
                "cell_containers": self.cell_containers, "container_model": self.container_model,
                "zones": self.zones, "start_timeout": self.start_timeout}
