"""Containers that take time: the model against the cell's time scale, and what /state counts as
starting while a container is being created (the auctioneer weighs each at 0.25)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cell_harness import CellSideBBS, RunningCell, lrp_work, post_work, running, start_cell, state, task_work

from pytest_diego.bbs import models
from pytest_diego.cluster.cell.container_model import parse_container_model
from pytest_diego.cluster.timing import Timing
from tests.support.waits import wait_until

TENTH = Timing(0.1)


@pytest.fixture
def make_cell(tmp_path: Path) -> Iterator[Any]:
    """``make_cell(spec, timing)``: an in-process cell with that container model and time scale."""
    cells: list[Iterator[RunningCell]] = []

    def make(spec: str, timing: Timing) -> RunningCell:
        started = start_cell(tmp_path / str(len(cells)), CellSideBBS(), timing=timing,
                             container_model=parse_container_model(spec))
        cells.append(started)
        return next(started)

    yield make
    for started in cells:
        next(started, None)


def seconds_to_running(cell: RunningCell) -> float:
    """Post one LRP instance and time it from /work to RUNNING in the BBS."""
    cell.bbs.desire("app")
    began = time.monotonic()
    post_work(cell, lrps=[lrp_work("app", 0)])
    wait_until(lambda: running(cell.bbs, "app", 0), 20, "app/0 RUNNING", interval=0.02)
    return time.monotonic() - began


def test_a_scaled_model_takes_diego_seconds_times_the_time_scale(make_cell):
    # 6 s of Diego time at time scale 0.1: about 0.6 s, not 6 s
    elapsed = seconds_to_running(make_cell("scaled:fixed:6", TENTH))
    assert 0.6 <= elapsed < 3.0


def test_a_plain_model_takes_real_seconds_at_any_time_scale(make_cell):
    # 0.6 s stays 0.6 s at time scale 0.1 (not 0.06 s)
    elapsed = seconds_to_running(make_cell("fixed:0.6", TENTH))
    assert 0.6 <= elapsed < 3.0


def test_a_task_counts_as_starting_until_its_container_is_created(make_cell):
    cell = make_cell("fixed:0.8", Timing(1.0))
    cell.bbs.desire_task("t", models.TaskDefinition(environment_variables=[
        models.EnvironmentVariable(name="TASK_DURATION_SECONDS", value="3")]))
    post_work(cell, tasks=[task_work("t")])
    wait_until(lambda: cell.bbs.called("task_by_guid"), 10, "TaskByGuid", interval=0.02)  # being created
    assert state(cell).starting_container_count == 1
    wait_until(lambda: state(cell).starting_container_count == 0, 10, "no container starting")
    s = state(cell)
    assert [(t.task_guid, t.state) for t in s.tasks] == [("t", "Running")]
    assert cell.bbs.called("complete_task") == []  # still running: created, not finished
