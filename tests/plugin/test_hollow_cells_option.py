"""``--diego-hollow-cells``: hollow cells a run against a real Diego adds for its duration. The
embedded cluster's BBS and Locket stand for the real Diego: the cells join before the run's
scenarios and leave at its end."""

from __future__ import annotations

import pytest

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.pytest_support.hollow import HollowCells, HollowCellsOwner
from pytest_diego.pytest_support.target import External, resolve_target


def target(**options: object) -> External:
    given = {"diego-bbs-url": "http://127.0.0.1:1", **options}
    resolved = resolve_target(lambda name: given.get(name), {}, {})
    assert isinstance(resolved, External)
    return resolved


def test_hollow_cells_need_lockets_address_and_take_it_from_cfdots_variable():
    with pytest.raises(pytest.UsageError, match="--diego-hollow-cells needs Diego's Locket"):
        target(**{"diego-hollow-cells": "3"})
    with pytest.raises(pytest.UsageError, match="--diego-rep-ca and --diego-rep-ca-key go together"):
        target(**{"diego-hollow-cells": "3", "diego-locket-address": "127.0.0.1:2", "diego-rep-ca": "ca.crt"})
    env = {"LOCKET_API_LOCATION": "locket.service.cf.internal:8891"}
    resolved = resolve_target(
        lambda name: {"diego-bbs-url": "http://127.0.0.1:1", "diego-hollow-cells": "3"}.get(name), {}, env
    )
    assert resolved.hollow_cells == HollowCells(3, "locket.service.cf.internal:8891")
    assert target().hollow_cells is None


def test_the_runs_hollow_cells_join_and_leave(tmp_path):
    with (
        EmbeddedCluster.start(ClusterConfig(cells=1, state_dir=tmp_path / "diego")) as diego,
        diego.client(timeout=10) as bbs,
    ):
        owner = HollowCellsOwner(
            HollowCells(2, diego.locket_address, "127.1.97.1"),
            diego.bbs_url,
            None,
            None,
            None,
            tmp_path / "hollow",
        )
        owner.start()
        try:
            assert {c.cell_id for c in bbs.cells()} == {
                "cell-0",
                "pytest-diego-hollow-0",
                "pytest-diego-hollow-1",
            }
        finally:
            owner.stop()
        assert {c.cell_id for c in bbs.cells()} == {"cell-0"}
