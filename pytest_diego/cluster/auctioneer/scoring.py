"""Diego's auction scheduling as a pure function: order the batch, score cells, reserve, report errors.

Follows ``auction:auctionrunner/scheduler.go``, ``cell.go``, ``zone_sorter.go``, ``zone_builder.go``
and ``rep:resources.go``:

- order: LRPs with index 0, then tasks, then LRPs with higher indexes; bigger memory first in each;
- score (lower wins): rep's ``ComputeScore`` (the mean fraction of memory, disk and containers used
  after placement, plus ``starting_container_weight`` × containers the cell is starting), plus
  ``LocalityOffset`` (1000) per instance of the same process on the cell (for tasks: per task on
  the cell), plus the cell's index × ``bin_pack_first_fit_weight`` (indexes renumbered 0, 1, ...
  within each zone when that weight is set); an LRP is scored and matched with the cell's proxy
  memory added to its own, and reserves only its own;
- zones first: an LRP goes to the zone holding the fewest instances of its process (every cell of
  the zone counts, compatible or not); zones with equal counts are searched together;
- every placement is added to the cell's state (``AddLRP``/``AddTask``): its resources, one more
  starting container, and one more instance or task, so later work in the same batch sees it in
  both the zone count and the locality offset; that is what spreads 160 instances of one LRP on
  4 equal cells of one zone exactly 40/40/40/40;
- an unplaceable item gets Diego's placement error; "insufficient resources: ..." names only the
  resources that were short on every cell tried.

Where Diego leaves a choice to Go's map order (zones with equal counts, cells with equal scores) the
lowest cell index wins here, so a placement can be asserted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.rep import models as rep_models
from pytest_diego.rep.models import RootFSProviders

LOCALITY_OFFSET = 1000
DEFAULT_ROOTFS_PROVIDERS = RootFSProviders(arbitrary=("docker",),
                                           fixed={"preloaded": ("cflinuxfs3", "cflinuxfs4")})
"""A cell state built by hand (tests, simulations): a Diego cell's stacks and docker."""

ERR_NO_COMPATIBLE_CELL = "found no compatible cell for required rootfs"
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

    def to_rep(self) -> rep_models.LRP:
        """As Diego's auctioneer sends it in ``/work`` (``rep.NewLRP`` with no instance guid)."""
        return rep_models.LRP(process_guid=self.process_guid, index=self.index, domain=self.domain,
                              memory_mb=self.memory_mb, disk_mb=self.disk_mb, root_fs=self.root_fs,
                              placement_tags=self.placement_tags, max_pids=self.max_pids)


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

    def to_rep(self) -> rep_models.Task:
        """As Diego's auctioneer sends it in ``/work`` (``rep.NewTask``: state Invalid)."""
        return rep_models.Task(task_guid=self.task_guid, domain=self.domain, memory_mb=self.memory_mb,
                               disk_mb=self.disk_mb, root_fs=self.root_fs, placement_tags=self.placement_tags,
                               max_pids=self.max_pids)


@dataclass
class Resources:
    memory_mb: int
    disk_mb: int
    containers: int


@dataclass
class CellState:
    """What a cell's ``GET /state`` said, plus what this auction has added to it since."""

    cell_id: str
    zone: str
    rep_url: str
    total: Resources
    available: Resources
    lrp_counts: Counter[str] = field(default_factory=Counter)  # instances per process_guid
    task_count: int = 0
    starting_container_count: int = 0
    rootfs_providers: RootFSProviders = field(default_factory=lambda: DEFAULT_ROOTFS_PROVIDERS)
    placement_tags: tuple[str, ...] = ()
    optional_placement_tags: tuple[str, ...] = ()
    evacuating: bool = False
    index: int = 0
    proxy_memory_mb: int = 0  # rep's ProxyMemoryAllocationMB: what each LRP's envoy proxy takes

    @classmethod
    def from_rep(cls, state: rep_models.CellState) -> CellState:
        """A rep's ``GET /state``; its index is the rep's ``cell_index``."""
        def resources(r: rep_models.Resources) -> Resources:
            return Resources(r.memory_mb, r.disk_mb, r.containers)

        return cls(
            cell_id=state.cell_id, zone=state.zone, rep_url=state.rep_url, total=resources(state.total),
            available=resources(state.available),
            lrp_counts=Counter(lrp.process_guid for lrp in state.lrps), task_count=len(state.tasks),
            starting_container_count=state.starting_container_count, rootfs_providers=state.rootfs_providers,
            placement_tags=state.placement_tags, optional_placement_tags=state.optional_placement_tags,
            evacuating=state.evacuating, index=state.cell_index,
            proxy_memory_mb=state.proxy_memory_allocation_mb)

    def fits(self, memory_mb: int, disk_mb: int) -> bool:
        """No :meth:`problems` (asked of every cell for every item, so without building a set)."""
        a = self.available
        return a.disk_mb >= disk_mb and a.memory_mb >= memory_mb and a.containers >= 1

    def problems(self, memory_mb: int, disk_mb: int) -> set[str]:
        """Resources this cell is short of for the work (empty: it fits); rep's ``ResourceMatch``."""
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
        """rep's ``MatchRootFS``: the scheme's provider, and for a fixed set the stack's name."""
        return self.rootfs_providers.match(root_fs)

    def matches_placement_tags(self, tags: Sequence[str]) -> bool:
        """Every required tag of the cell is asked for; every asked tag the cell has."""
        wanted, required = set(tags), set(self.placement_tags)
        return required <= wanted and wanted <= required | set(self.optional_placement_tags)

    def _reserve(self, memory_mb: int, disk_mb: int) -> None:
        self.available.memory_mb -= memory_mb
        self.available.disk_mb -= disk_mb
        self.available.containers -= 1
        self.starting_container_count += 1

    def add_lrp(self, lrp: LRPStart) -> None:
        """rep's ``AddLRP``: the instance now counts on this cell (and so in its zone)."""
        self._reserve(lrp.memory_mb, lrp.disk_mb)
        self.lrp_counts[lrp.process_guid] += 1

    def add_task(self, task: TaskStart) -> None:
        """rep's ``AddTask``."""
        self._reserve(task.memory_mb, task.disk_mb)
        self.task_count += 1


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


Zones = dict[str, list[CellState]]


@dataclass(frozen=True)
class _Compatible:
    """The cells able to run one (rootfs, tags): all of them by index, and by zone; or the error."""

    cells: list[CellState]
    zones: Zones
    error: str | None


class _Auction:
    """One batch's view of the cells: grouped by zone, with compatibility remembered per
    (rootfs, tags) so that a 4000-instance LRP on 100 cells tests each cell once, not 4000 times."""

    def __init__(self, cells: Sequence[CellState], weights: Weights) -> None:
        self.weights = weights
        self.cells = sorted((c for c in cells if not c.evacuating), key=lambda c: c.index)
        self.zones = _by_zone(self.cells)
        # zone_builder.go: with a bin-pack weight, indexes count 0, 1, ... within each zone
        weight = weights.bin_pack_first_fit_weight
        self.index_score = {id(c): (i if weight > 0 else c.index) * weight
                            for cells_of_zone in self.zones.values() for i, c in enumerate(cells_of_zone)}
        self._compatible: dict[tuple[str, tuple[str, ...]], _Compatible] = {}

    def compatible(self, root_fs: str, tags: tuple[str, ...]) -> _Compatible:
        key = (root_fs, tags)
        found = self._compatible.get(key)
        if found is None:
            by_rootfs = [c for c in self.cells if c.matches_rootfs(root_fs)]
            matching = [c for c in by_rootfs if c.matches_placement_tags(tags)]
            error = None if matching else ERR_NO_COMPATIBLE_CELL if not by_rootfs else \
                placement_tag_mismatch(list(tags))
            found = self._compatible[key] = _Compatible(matching, _by_zone(matching), error)
        return found

    def place_lrp(self, lrp: LRPStart) -> CellState | str:
        compatible = self.compatible(lrp.root_fs, lrp.placement_tags)
        if compatible.error:
            return compatible.error
        zones = compatible.zones
        guid = lrp.process_guid
        # zone_sorter.go: instances of the process on every cell of the zone, compatible or not
        instances = {z: sum(c.lrp_counts[guid] for c in self.zones[z]) for z in zones}
        ordered = sorted(zones, key=lambda z: (instances[z], z))
        weight = self.weights.starting_container_weight
        problems = set(RESOURCES)
        winner: CellState | None = None
        best = float("inf")
        for i, zone in enumerate(ordered):
            for cell in zones[zone]:
                memory = lrp.memory_mb + cell.proxy_memory_mb
                if not cell.fits(memory, lrp.disk_mb):
                    problems &= cell.problems(memory, lrp.disk_mb)
                    continue
                score = (cell.resource_score(memory, lrp.disk_mb, weight)
                         + LOCALITY_OFFSET * cell.lrp_counts[guid] + self.index_score[id(cell)])
                if score < best:
                    best, winner = score, cell
            ties_next = i + 1 < len(ordered) and instances[ordered[i + 1]] == instances[zone]
            if winner is not None and not ties_next:
                break
        return winner if winner is not None else insufficient_resources(problems)

    def place_task(self, task: TaskStart) -> CellState | str:
        compatible = self.compatible(task.root_fs, task.placement_tags)
        if compatible.error:
            return compatible.error
        weight = self.weights.starting_container_weight
        problems = set(RESOURCES)
        winner: CellState | None = None
        best = float("inf")
        for cell in compatible.cells:
            if not cell.fits(task.memory_mb, task.disk_mb):
                problems &= cell.problems(task.memory_mb, task.disk_mb)
                continue
            score = (cell.resource_score(task.memory_mb, task.disk_mb, weight)
                     + LOCALITY_OFFSET * cell.task_count)
            if score < best:
                best, winner = score, cell
        return winner if winner is not None else insufficient_resources(problems)


def _by_zone(cells: Iterable[CellState]) -> Zones:
    zones: Zones = {}
    for cell in cells:
        zones.setdefault(cell.zone, []).append(cell)
    return zones


def schedule(lrps: Iterable[LRPStart], tasks: Iterable[TaskStart], cells: Sequence[CellState],
             weights: Weights | None = None) -> Results:
    """Place a batch on ``cells`` (mutated: each placement is added to its cell's state)."""
    weights = weights or Weights()
    results = Results()
    auction = _Auction(cells, weights)
    inflight = sum(c.starting_container_count for c in auction.cells)
    limit = weights.starting_container_count_maximum
    for item in auction_order(lrps, tasks):
        failed: list[Any] = results.failed_lrps if isinstance(item, LRPStart) else results.failed_tasks
        if not auction.cells:
            failed.append((item, ERR_CELL_COMMUNICATION))
            continue
        if limit > 0 and inflight >= limit:
            failed.append((item, ERR_INFLIGHT_LIMIT))
            continue
        if isinstance(item, LRPStart):
            outcome = auction.place_lrp(item)
            if isinstance(outcome, str):
                failed.append((item, outcome))
                continue
            outcome.add_lrp(item)
            results.lrps_by_cell.setdefault(outcome.cell_id, []).append(item)
        else:
            task_outcome = auction.place_task(item)
            if isinstance(task_outcome, str):
                failed.append((item, task_outcome))
                continue
            task_outcome.add_task(item)
            results.tasks_by_cell.setdefault(task_outcome.cell_id, []).append(item)
        inflight += 1
    return results
