"""Diego's auction scheduling as a pure function: order the batch, score cells, reserve, report errors.

Follows ``auction:auctionrunner/scheduler.go`` and ``rep:resources.go``:

- order: LRPs with index 0, then tasks, then LRPs with higher indexes; bigger memory first in each;
- score (lower wins): the average fraction of memory, disk and containers used after placement,
  plus ``starting_container_weight`` × containers the cell is starting, plus 1000 per instance
  of the same process on the cell (for tasks: per task on the cell), plus cell index ×
  ``bin_pack_first_fit_weight``;
- zones: an LRP goes to the zone(s) holding the fewest of its instances that has room;
- every placement reserves resources on the cell, so later work in the batch sees less room;
- an unplaceable item gets Diego's placement error; "insufficient resources: ..." names only the
  resources that were short on every cell tried.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

LOCALITY_OFFSET = 1000

ERR_NO_COMPATIBLE_CELL = "found no compatible cells"
ERR_CELL_COMMUNICATION = "unable to communicate to compatible cells"
ERR_INFLIGHT_LIMIT = "waiting to start instance: reached in-flight start limit"
RESOURCES = ("disk", "memory", "containers")


def insufficient_resources(problems: Iterable[str]) -> str:
    """Diego's ``InsufficientResourcesError`` text: problems sorted, comma separated."""
    keys = sorted(problems)
    return f"insufficient resources: {', '.join(keys)}" if keys else "insufficient resources"


def placement_tag_mismatch(tags: Sequence[str]) -> str:
    """Diego's ``PlacementTagMismatchError`` text."""
    if not tags:
        return "found no compatible cell with no placement tags"
    if len(tags) == 1:
        return f'found no compatible cell with placement tag "{tags[0]}"'
    head = ", ".join(f'"{t}"' for t in tags[:-1])
    return f'found no compatible cell with placement tags {head} and "{tags[-1]}"'


@dataclass(frozen=True)
class Weights:
    """The auctioneer's scoring knobs, Diego's defaults."""

    starting_container_weight: float = 0.25
    bin_pack_first_fit_weight: float = 0.0
    starting_container_count_maximum: int = 0  # 0: unlimited


@dataclass(frozen=True)
class LRPStart:
    """One ActualLRP instance to place (one index of an auction request)."""

    process_guid: str
    index: int
    domain: str
    memory_mb: int
    disk_mb: int
    root_fs: str
    max_pids: int = 0
    placement_tags: tuple[str, ...] = ()

    @property
    def identifier(self) -> str:
        return f"{self.process_guid}.{self.index}"

    def to_json(self) -> dict[str, Any]:
        return {"process_guid": self.process_guid, "domain": self.domain, "index": self.index,
                "memory_mb": self.memory_mb, "disk_mb": self.disk_mb, "max_pids": self.max_pids,
                "root_fs": self.root_fs, "placement_tags": list(self.placement_tags)}


@dataclass(frozen=True)
class TaskStart:
    """One Task to place."""

    task_guid: str
    domain: str
    memory_mb: int
    disk_mb: int
    root_fs: str
    max_pids: int = 0
    placement_tags: tuple[str, ...] = ()

    @property
    def identifier(self) -> str:
        return self.task_guid

    def to_json(self) -> dict[str, Any]:
        return {"task_guid": self.task_guid, "domain": self.domain, "memory_mb": self.memory_mb,
                "disk_mb": self.disk_mb, "max_pids": self.max_pids, "root_fs": self.root_fs,
                "placement_tags": list(self.placement_tags)}


@dataclass
class Resources:
    memory_mb: int
    disk_mb: int
    containers: int


@dataclass
class CellState:
    """What a cell's ``GET /state`` said, plus what this auction has reserved on it since."""

    cell_id: str
    zone: str
    rep_url: str
    total: Resources
    available: Resources
    lrp_counts: Counter[str] = field(default_factory=Counter)  # instances per process_guid
    task_count: int = 0
    starting_container_count: int = 0
    rootfs_providers: tuple[str, ...] = ("preloaded", "docker")
    placement_tags: tuple[str, ...] = ()
    optional_placement_tags: tuple[str, ...] = ()
    evacuating: bool = False
    index: int = 0

    @classmethod
    def from_json(cls, state: dict[str, Any], fallback_index: int = 0) -> CellState:
        total, avail = state["total_resources"], state["available_resources"]
        match = re.search(r"(\d+)$", state["cell_id"])
        return cls(
            cell_id=state["cell_id"], zone=state.get("zone", ""), rep_url=state.get("rep_url", ""),
            total=Resources(total["memory_mb"], total["disk_mb"], total["containers"]),
            available=Resources(avail["memory_mb"], avail["disk_mb"], avail["containers"]),
            lrp_counts=Counter(lrp["process_guid"] for lrp in state.get("lrps", [])),
            task_count=len(state.get("tasks", [])),
            starting_container_count=int(state.get("starting_container_count", 0)),
            rootfs_providers=tuple(state.get("rootfs_providers", ())),
            placement_tags=tuple(state.get("placement_tags", ())),
            optional_placement_tags=tuple(state.get("optional_placement_tags", ())),
            evacuating=bool(state.get("evacuating", False)),
            index=int(match.group(1)) if match else fallback_index,
        )

    def problems(self, memory_mb: int, disk_mb: int) -> set[str]:
        """Resources this cell is short of for the work (empty: it fits)."""
        short = set()
        if self.available.disk_mb < disk_mb:
            short.add("disk")
        if self.available.memory_mb < memory_mb:
            short.add("memory")
        if self.available.containers < 1:
            short.add("containers")
        return short

    def resource_score(self, memory_mb: int, disk_mb: int, starting_weight: float) -> float:
        """rep's ``ComputeScore``: mean fraction used after placement + starting-container load."""
        t, a = self.total, self.available
        used = (
            (1.0 - (a.memory_mb - memory_mb) / t.memory_mb if t.memory_mb else 1.0)
            + (1.0 - (a.disk_mb - disk_mb) / t.disk_mb if t.disk_mb else 1.0)
            + (1.0 - (a.containers - 1) / t.containers if t.containers else 1.0)
        ) / 3.0
        return used + self.starting_container_count * starting_weight

    def matches_rootfs(self, root_fs: str) -> bool:
        scheme = root_fs.split(":", 1)[0] if ":" in root_fs else ""
        return bool(scheme) and scheme in self.rootfs_providers

    def matches_placement_tags(self, tags: Sequence[str]) -> bool:
        """Every required tag of the cell is asked for; every asked tag the cell has."""
        wanted, required = set(tags), set(self.placement_tags)
        return required <= wanted and wanted <= required | set(self.optional_placement_tags)

    def reserve(self, memory_mb: int, disk_mb: int) -> None:
        self.available.memory_mb -= memory_mb
        self.available.disk_mb -= disk_mb
        self.available.containers -= 1
        self.starting_container_count += 1


@dataclass
class Results:
    """Where each item went, and what could not be placed with which placement error."""

    lrps_by_cell: dict[str, list[LRPStart]] = field(default_factory=dict)
    tasks_by_cell: dict[str, list[TaskStart]] = field(default_factory=dict)
    failed_lrps: list[tuple[LRPStart, str]] = field(default_factory=list)
    failed_tasks: list[tuple[TaskStart, str]] = field(default_factory=list)

    @property
    def placed_lrps(self) -> int:
        return sum(len(v) for v in self.lrps_by_cell.values())

    @property
    def placed_tasks(self) -> int:
        return sum(len(v) for v in self.tasks_by_cell.values())


def auction_order(lrps: Iterable[LRPStart], tasks: Iterable[TaskStart]
                  ) -> list[LRPStart | TaskStart]:
    """Diego's order: index-0 LRPs, tasks, higher-index LRPs; bigger memory first within each."""
    ordered_lrps = sorted(lrps, key=lambda lrp: (lrp.index, -lrp.memory_mb))
    first = [lrp for lrp in ordered_lrps if lrp.index == 0]
    rest = [lrp for lrp in ordered_lrps if lrp.index > 0]
    return [*first, *sorted(tasks, key=lambda t: -t.memory_mb), *rest]


def _compatible(cells: Sequence[CellState], root_fs: str, tags: Sequence[str]
                ) -> tuple[list[CellState], str | None]:
    """Cells able to run this rootfs with these placement tags, or Diego's mismatch error."""
    by_rootfs = [c for c in cells if c.matches_rootfs(root_fs)]
    if not by_rootfs:
        return [], ERR_NO_COMPATIBLE_CELL
    matching = [c for c in by_rootfs if c.matches_placement_tags(tags)]
    if not matching:
        return [], placement_tag_mismatch(list(tags))
    return matching, None


Compat = dict[tuple[str, tuple[str, ...]], "tuple[list[CellState], str | None]"]


def _compatible_cached(cells: Sequence[CellState], root_fs: str, tags: Sequence[str],
                       cache: Compat | None) -> tuple[list[CellState], str | None]:
    """``_compatible``, remembered per (rootfs, tags) for one batch: a 4000-instance LRP on 100
    cells would otherwise test 400,000 cells for the same answer."""
    if cache is None:
        return _compatible(cells, root_fs, tags)
    key = (root_fs, tuple(tags))
    found = cache.get(key)
    if found is None:
        found = cache[key] = _compatible(cells, root_fs, tags)
    return found


def _place_lrp(lrp: LRPStart, cells: Sequence[CellState], weights: Weights,
               cache: Compat | None = None) -> CellState | str:
    compatible, err = _compatible_cached(cells, lrp.root_fs, lrp.placement_tags, cache)
    if err:
        return err
    zones: dict[str, list[CellState]] = {}
    for cell in sorted(compatible, key=lambda c: c.index):
        zones.setdefault(cell.zone, [])
        zones[cell.zone].append(cell)
    # instances of this process per zone count every cell of the zone, compatible or not
    zone_instances = {z: sum(c.lrp_counts[lrp.process_guid] for c in cells if c.zone == z)
                      for z in zones}
    ordered = sorted(zones, key=lambda z: (zone_instances[z], z))
    problems = set(RESOURCES)
    winner: CellState | None = None
    best = float("inf")
    for i, zone in enumerate(ordered):
        for cell in zones[zone]:
            short = cell.problems(lrp.memory_mb, lrp.disk_mb)
            if short:
                problems &= short
                continue
            score = (cell.resource_score(lrp.memory_mb, lrp.disk_mb, weights.starting_container_weight)
                     + LOCALITY_OFFSET * cell.lrp_counts[lrp.process_guid]
                     + cell.index * weights.bin_pack_first_fit_weight)
            if score < best:
                best, winner = score, cell
        next_ties = i + 1 < len(ordered) and zone_instances[ordered[i + 1]] == zone_instances[zone]
        if winner is not None and not next_ties:
            break
    return winner if winner is not None else insufficient_resources(problems)


def _place_task(task: TaskStart, cells: Sequence[CellState], weights: Weights,
                cache: Compat | None = None) -> CellState | str:
    compatible, err = _compatible_cached(cells, task.root_fs, task.placement_tags, cache)
    if err:
        return err
    problems = set(RESOURCES)
    winner: CellState | None = None
    best = float("inf")
    for cell in sorted(compatible, key=lambda c: c.index):
        short = cell.problems(task.memory_mb, task.disk_mb)
        if short:
            problems &= short
            continue
        score = (cell.resource_score(task.memory_mb, task.disk_mb, weights.starting_container_weight)
                 + LOCALITY_OFFSET * cell.task_count)
        if score < best:
            best, winner = score, cell
    return winner if winner is not None else insufficient_resources(problems)


def schedule(lrps: Iterable[LRPStart], tasks: Iterable[TaskStart], cells: Sequence[CellState],
             weights: Weights | None = None) -> Results:
    """Place a batch on ``cells`` (mutated: each placement reserves its resources)."""
    weights = weights or Weights()
    results = Results()
    live = [c for c in cells if not c.evacuating]
    inflight = sum(c.starting_container_count for c in live)
    cache: Compat = {}
    for item in auction_order(lrps, tasks):
        is_lrp = isinstance(item, LRPStart)
        failed: list[Any] = results.failed_lrps if is_lrp else results.failed_tasks
        if not live:
            failed.append((item, ERR_CELL_COMMUNICATION))
            continue
        if weights.starting_container_count_maximum > 0 and \
                inflight >= weights.starting_container_count_maximum:
            failed.append((item, ERR_INFLIGHT_LIMIT))
            continue
        outcome = (_place_lrp(item, live, weights, cache) if is_lrp
                   else _place_task(item, live, weights, cache))
        if isinstance(outcome, str):
            failed.append((item, outcome))
            continue
        outcome.reserve(item.memory_mb, item.disk_mb)
        inflight += 1
        if isinstance(item, LRPStart):
            outcome.lrp_counts[item.process_guid] += 1
            results.lrps_by_cell.setdefault(outcome.cell_id, []).append(item)
        else:
            outcome.task_count += 1
            results.tasks_by_cell.setdefault(outcome.cell_id, []).append(item)
    return results
