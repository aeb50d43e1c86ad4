"""Diego's auction order and scoring, on the pure scheduling function."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pytest_diego import rep
from pytest_diego.cluster.auctioneer.scoring import (
    ERR_CELL_COMMUNICATION,
    ERR_INFLIGHT_LIMIT,
    ERR_NO_COMPATIBLE_CELL,
    CellState,
    LRPStart,
    Resources,
    TaskStart,
    Weights,
    auction_order,
    insufficient_resources,
    placement_tag_mismatch,
    schedule,
)
from pytest_diego.rep.models import RootFSProviders


def cell(i: int, zone: str = "z0", memory: int = 1024, disk: int = 2048, containers: int = 10,
         **kw) -> CellState:
    return CellState(cell_id=f"cell-{i}", zone=zone, rep_url=f"http://127.1.0.{i + 1}:1",
                     total=Resources(memory, disk, containers), available=Resources(memory, disk, containers),
                     index=i, **kw)


def lrp(guid: str, index: int = 0, memory: int = 64, disk: int = 64, root_fs: str = "preloaded:cflinuxfs4",
        tags: tuple[str, ...] = ()) -> LRPStart:
    return LRPStart(guid, index, "d", memory, disk, root_fs, placement_tags=tags)


def task(guid: str, memory: int = 64, disk: int = 64, root_fs: str = "preloaded:cflinuxfs4") -> TaskStart:
    return TaskStart(guid, "d", memory, disk, root_fs)


def placed(results, kind: str = "lrps") -> dict[str, str]:
    by_cell = results.lrps_by_cell if kind == "lrps" else results.tasks_by_cell
    return {item.identifier: cell_id for cell_id, items in by_cell.items() for item in items}


def test_order_is_index_zero_then_tasks_then_higher_indexes_bigger_memory_first():
    order = auction_order(
        [lrp("a", 1, memory=512), lrp("b", 0, memory=64), lrp("c", 2, memory=1024), lrp("d", 0, memory=256),
         lrp("e", 1, memory=1024)],
        [task("t-small", memory=32), task("t-big", memory=128)],
    )
    assert [x.identifier for x in order] == ["d.0", "b.0", "t-big", "t-small", "e.1", "a.1", "c.2"]


def test_index_zero_is_placed_before_tasks_take_the_room():
    # one slot only: Diego's order gives it to index 0 of the LRP, not to the task or index 1
    cells = [cell(0, containers=1)]
    results = schedule([lrp("app", 1), lrp("app", 0)], [task("t")], cells)
    assert placed(results) == {"app.0": "cell-0"}
    assert [(x.identifier, e) for x, e in results.failed_tasks] == [
        ("t", "insufficient resources: containers")]
    assert [(x.identifier, e) for x, e in results.failed_lrps] == [
        ("app.1", "insufficient resources: containers")]


def test_bigger_memory_goes_first_within_a_group():
    # 100 MB free: the 80 MB app must win over the 30 MB one, even though the small one came first
    results = schedule([lrp("small", memory=30), lrp("big", memory=80)], [], [cell(0, memory=100)])
    assert placed(results) == {"big.0": "cell-0"}
    assert [(x.identifier, e) for x, e in results.failed_lrps] == [
        ("small.0", "insufficient resources: memory")]


def test_work_spreads_evenly_over_identical_cells():
    cells = [cell(i, memory=4096, containers=100) for i in range(4)]
    results = schedule([lrp(f"app-{n}") for n in range(40)], [], cells)
    assert Counter(placed(results).values()) == {f"cell-{i}": 10 for i in range(4)}
    # the batch's own placements shrank the cells' free resources
    assert all(c.available.containers == 90 and c.available.memory_mb == 4096 - 640 for c in cells)


def test_instances_of_one_process_spread_across_cells_and_zones():
    cells = [cell(0, "z0"), cell(1, "z0"), cell(2, "z1"), cell(3, "z1"), cell(4, "z2"), cell(5, "z2")]
    results = schedule([lrp("web", i) for i in range(6)], [], cells)
    where = placed(results)
    assert sorted(where.values()) == [f"cell-{i}" for i in range(6)]  # one instance per cell
    zone_of = {c.cell_id: c.zone for c in cells}
    assert Counter(zone_of[c] for c in where.values()) == {"z0": 2, "z1": 2, "z2": 2}


def test_zone_with_fewest_instances_wins_over_a_less_loaded_cell():
    # z0's cell is nearly empty but already has an instance of "web"; z1's cell is busier but has none
    busy = cell(1, "z1")
    busy.available = Resources(512, 1024, 5)
    idle = cell(0, "z0", lrp_counts=Counter({"web": 1}))
    results = schedule([lrp("web", 1)], [], [idle, busy])
    assert placed(results) == {"web.1": "cell-1"}


def test_locality_penalty_outweighs_balance_within_a_zone():
    crowded = cell(0, lrp_counts=Counter({"web": 1}))
    loaded = cell(1)
    loaded.available = Resources(256, 512, 3)
    results = schedule([lrp("web", 1)], [], [crowded, loaded])
    assert placed(results) == {"web.1": "cell-1"}


def test_starting_containers_push_work_elsewhere():
    starting = cell(0, starting_container_count=4)
    results = schedule([lrp("a")], [], [starting, cell(1)])
    assert placed(results) == {"a.0": "cell-1"}
    # with the weight at 0 the tie goes to the lower cell index
    results = schedule([lrp("a")], [], [cell(0, starting_container_count=4), cell(1)],
                       Weights(starting_container_weight=0.0))
    assert placed(results) == {"a.0": "cell-0"}


def test_bin_pack_first_fit_weight_prefers_low_cell_indexes():
    cells = [cell(i) for i in range(3)]
    results = schedule([lrp(f"a{n}") for n in range(3)], [], cells, Weights(bin_pack_first_fit_weight=10.0))
    assert set(placed(results).values()) == {"cell-0"}


def test_tasks_spread_by_task_count():
    results = schedule([], [task(f"t{n}") for n in range(6)], [cell(0), cell(1), cell(2)])
    assert Counter(placed(results, "tasks").values()) == {"cell-0": 2, "cell-1": 2, "cell-2": 2}


@pytest.mark.parametrize(("memory", "disk", "containers", "error"), [
    (10, 4096, 5, "insufficient resources: memory"),
    (4096, 10, 5, "insufficient resources: disk"),
    (4096, 4096, 0, "insufficient resources: containers"),
    (10, 10, 0, "insufficient resources: containers, disk, memory"),
])
def test_insufficient_resources_names_what_is_short(memory, disk, containers, error):
    results = schedule([lrp("a", memory=64, disk=64)], [task("t", memory=64, disk=64)],
                       [cell(0, memory=memory, disk=disk, containers=containers)])
    assert [e for _, e in results.failed_lrps] == [error]
    assert [e for _, e in results.failed_tasks] == [error]


def test_only_problems_shared_by_every_cell_are_reported():
    low_memory, low_disk = cell(0, memory=10), cell(1, disk=10)
    results = schedule([lrp("a", memory=64, disk=64)], [], [low_memory, low_disk])
    assert [e for _, e in results.failed_lrps] == ["insufficient resources"]
    results = schedule([lrp("a", memory=64)], [], [cell(0, memory=10), cell(1, memory=20, disk=10)])
    assert [e for _, e in results.failed_lrps] == [insufficient_resources(["memory"])]


def test_rootfs_scheme_filters_cells():
    preloaded_only = cell(0, rootfs_providers=RootFSProviders(fixed={"preloaded": ("cflinuxfs4",)}))
    docker = cell(1, rootfs_providers=RootFSProviders(arbitrary=("docker",),
                                                      fixed={"preloaded": ("cflinuxfs4",)}))
    results = schedule([lrp("d", root_fs="docker:///cloudfoundry/grace")], [], [preloaded_only, docker])
    assert placed(results) == {"d.0": "cell-1"}
    results = schedule([lrp("w", root_fs="windows:2019"), lrp("s", root_fs="preloaded:cflinuxfs3")],
                       [task("t", root_fs="nope")], [preloaded_only, docker])
    assert [e for _, e in results.failed_lrps] == [ERR_NO_COMPATIBLE_CELL, ERR_NO_COMPATIBLE_CELL]
    assert [e for _, e in results.failed_tasks] == [ERR_NO_COMPATIBLE_CELL]  # a stack outside the set


def test_placement_tags_filter_cells():
    plain = cell(0)
    gpu = cell(1, placement_tags=("gpu",))
    gpu_optional_ssd = cell(2, placement_tags=("gpu",), optional_placement_tags=("ssd",))
    cells = [plain, gpu, gpu_optional_ssd]
    assert placed(schedule([lrp("x")], [], cells)) == {"x.0": "cell-0"}  # required tags not asked: no
    assert placed(schedule([lrp("g", tags=("gpu", "ssd"))], [], cells)) == {"g.0": "cell-2"}
    failed = schedule([lrp("n", tags=("fpga",))], [], cells).failed_lrps
    assert [e for _, e in failed] == [placement_tag_mismatch(["fpga"])]
    assert placement_tag_mismatch(["a", "b", "c"]) == (
        'found no compatible cell with placement tags "a", "b" and "c"')


def test_no_cells_is_a_communication_error_and_evacuating_cells_take_nothing():
    results = schedule([lrp("a")], [task("t")], [cell(0, evacuating=True)])
    assert [e for _, e in results.failed_lrps] == [ERR_CELL_COMMUNICATION]
    assert [e for _, e in results.failed_tasks] == [ERR_CELL_COMMUNICATION]


def test_starting_container_count_maximum_holds_back_work():
    results = schedule([lrp(f"a{n}") for n in range(3)], [], [cell(0, starting_container_count=1), cell(1)],
                       Weights(starting_container_count_maximum=2))
    assert len(placed(results)) == 1
    assert [e for _, e in results.failed_lrps] == [ERR_INFLIGHT_LIMIT, ERR_INFLIGHT_LIMIT]


def test_cell_state_from_the_reps_state():
    state = rep.CellState(
        rep_url="http://127.1.0.8:5", cell_id="cell-7", cell_index=7,
        rootfs_providers=RootFSProviders(fixed={"preloaded": ("cflinuxfs4",)}),
        available=rep.Resources(50, 150, 1), total=rep.Resources(100, 200, 3),
        lrps=(rep.LRP("p", 0, "d", 50, 50, "preloaded:cflinuxfs4"),), starting_container_count=1, zone="z1")
    c = CellState.from_rep(rep.CellState.from_json(json.loads(rep.encode(state.to_json()))))
    assert (c.index, c.lrp_counts["p"], c.available.memory_mb, c.zone) == (7, 1, 50, "z1")
    assert c.matches_rootfs("preloaded:cflinuxfs4") and not c.matches_rootfs("docker:///busybox")
    assert c.resource_score(10, 10, 0.25) == pytest.approx((0.6 + 0.3 + 1.0) / 3 + 0.25)


# -- fezzik's burst: one LRP of 160 instances with 160 Tasks on 4 cells (docs/diego-facts.md §15.1)

def burst(zones: list[str], running: tuple[int, ...] = ()) -> tuple[dict[str, int], dict[str, int]]:
    """Instances and Tasks per cell after one auction of the burst on cells in ``zones``; cell i
    already runs ``running[i]`` containers of other work (32 MB each)."""
    cells = [cell(i, zone, memory=32768, disk=65536, containers=250) for i, zone in enumerate(zones)]
    for c, busy in zip(cells, running, strict=False):
        c.available = Resources(32768 - 32 * busy, 65536 - 32 * busy, 250 - busy)
    results = schedule([lrp("fezzik-lrp", i, memory=32, disk=32) for i in range(160)],
                       [task(f"fezzik-task-{i}", memory=32, disk=32) for i in range(160)], cells)
    lrps = {cell_id: len(items) for cell_id, items in results.lrps_by_cell.items()}
    tasks = {cell_id: len(items) for cell_id, items in results.tasks_by_cell.items()}
    return lrps, tasks


EVEN = {f"cell-{i}": 40 for i in range(4)}
UNEVEN_LOAD = (150, 100, 50, 0)  # containers already running, busiest first


def test_burst_lands_40_instances_and_40_tasks_on_each_of_4_cells_in_one_zone():
    # what a real Diego did with the same burst on 4 equal cells
    assert burst(["z0"] * 4) == (EVEN, EVEN)
    # and on cells already busy to different degrees: every instance placed earlier in the batch
    # adds 1000 to its cell's score, which outweighs any difference in load (a score of at most ~1
    # plus 0.25 per starting container), so each next instance goes to the cell with the fewest
    lrps, tasks = burst(["z0"] * 4, running=UNEVEN_LOAD)
    assert lrps == EVEN
    assert tasks == EVEN  # tasks spread by the same offset per Task on the cell


def test_burst_balances_zones_before_cells():
    # zone a has 3 cells, zone b 1: each zone takes half of the instances, so the lone cell holds 80
    lrps, tasks = burst(["a", "a", "a", "b"])
    assert lrps == {"cell-0": 27, "cell-1": 27, "cell-2": 26, "cell-3": 80}
    assert tasks == EVEN  # tasks know no zones
    # 4 cells in 3 zones (the embedded cluster's default zones): 53 per single-cell zone, as Diego
    # would place them; only zones of equal size give 40 per cell
    lrps, _ = burst(["z0", "z1", "z2", "z0"])
    assert lrps == {"cell-0": 27, "cell-1": 53, "cell-2": 53, "cell-3": 27}


def test_dropping_same_batch_locality_breaks_the_spread(monkeypatch):
    """The planted fault: a placement takes its resources but is not counted as an instance of its
    process, neither on the cell nor in its zone, until the next auction's /state. On equal cells
    the starting-container weight alone still evens one batch out; on unequal cells and unequal
    zones the spread breaks."""
    def reserve_only(self: CellState, start: LRPStart) -> None:
        self._reserve(start.memory_mb, start.disk_mb)

    monkeypatch.setattr(CellState, "add_lrp", reserve_only)
    lrps, _ = burst(["z0"] * 4, running=UNEVEN_LOAD)
    assert lrps != EVEN
    assert lrps["cell-3"] > 40 > lrps["cell-0"]  # the idle cell takes more than its share
    lrps, _ = burst(["a", "a", "a", "b"])
    assert lrps["cell-3"] != 80  # the zone count is lost too


def test_bin_pack_indexes_count_from_zero_within_each_zone():
    # zones z0 = {cell-0, cell-1}, z1 = {cell-2}; no instance anywhere, so both zones are searched.
    # Renumbered per zone, cell-2 is index 0 of z1 like cell-0 of z0 and wins by being emptier.
    def cells() -> list[CellState]:
        busy = cell(0, "z0")
        busy.available = Resources(512, 1024, 5)
        return [busy, cell(1, "z0"), cell(2, "z1")]

    heavy = Weights(bin_pack_first_fit_weight=10.0)
    # (with cell-2 keeping its global index 2 it would score 20 and the busy cell-0 would win)
    assert placed(schedule([lrp("a")], [], cells(), heavy)) == {"a.0": "cell-2"}
    # the second instance goes to z0 (fewer instances), first fit: its index-0 cell despite its load
    two = schedule([lrp("b", 0), lrp("b", 1)], [], cells(), heavy)
    assert placed(two) == {"b.0": "cell-2", "b.1": "cell-0"}


def test_proxy_memory_counts_for_lrps_when_matching_and_scoring_but_is_not_reserved():
    envoy = cell(0, memory=100, proxy_memory_mb=40)
    results = schedule([lrp("app", memory=64)], [task("t", memory=64)], [envoy])
    assert [(x.identifier, e) for x, e in results.failed_lrps] == [
        ("app.0", "insufficient resources: memory")]
    assert placed(results, "tasks") == {"t": "cell-0"}  # tasks run without a proxy
    roomy = cell(0, memory=1000, proxy_memory_mb=40)
    schedule([lrp("app", memory=64)], [], [roomy])
    assert roomy.available.memory_mb == 1000 - 64
    # the proxy's share is part of the score: of two equal cells, the one without a proxy wins
    results = schedule([lrp("app", memory=64)], [], [cell(0, proxy_memory_mb=200), cell(1)])
    assert placed(results) == {"app.0": "cell-1"}


def test_cell_index_and_proxy_memory_from_the_rep_state():
    state = rep.CellState(rep_url="", cell_id="diego-cell-abc", cell_index=5, proxy_memory_allocation_mb=32,
                          rootfs_providers=RootFSProviders(), available=rep.Resources(50, 150, 1),
                          total=rep.Resources(100, 200, 3))
    c = CellState.from_rep(state)
    assert (c.index, c.proxy_memory_mb) == (5, 32)
