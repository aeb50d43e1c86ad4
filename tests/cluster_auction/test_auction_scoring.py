"""Diego's auction order and scoring, on the pure scheduling function."""

from __future__ import annotations

from collections import Counter

import pytest

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
    preloaded_only = cell(0, rootfs_providers=("preloaded",))
    docker = cell(1, rootfs_providers=("preloaded", "docker"))
    results = schedule([lrp("d", root_fs="docker:///cloudfoundry/grace")], [], [preloaded_only, docker])
    assert placed(results) == {"d.0": "cell-1"}
    results = schedule([lrp("w", root_fs="windows:2019")], [task("t", root_fs="nope")],
                       [preloaded_only, docker])
    assert [e for _, e in results.failed_lrps] == [ERR_NO_COMPATIBLE_CELL]
    assert [e for _, e in results.failed_tasks] == [ERR_NO_COMPATIBLE_CELL]


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


def test_cell_state_from_rep_json():
    state = {"cell_id": "cell-7", "zone": "z1", "rep_url": "http://127.1.0.8:5",
             "total_resources": {"memory_mb": 100, "disk_mb": 200, "containers": 3},
             "available_resources": {"memory_mb": 50, "disk_mb": 150, "containers": 1},
             "lrps": [{"process_guid": "p", "index": 0, "memory_mb": 50, "disk_mb": 50}],
             "tasks": [], "starting_container_count": 1, "rootfs_providers": ["preloaded"],
             "placement_tags": [], "evacuating": False}
    c = CellState.from_json(state)
    assert (c.index, c.lrp_counts["p"], c.available.memory_mb) == (7, 1, 50)
    assert c.rootfs_providers == ("preloaded",)
    assert c.resource_score(10, 10, 0.25) == pytest.approx((0.6 + 0.3 + 1.0) / 3 + 0.25)
