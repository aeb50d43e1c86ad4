"""LRP convergence in slices decides exactly what one pass under a single lock hold decides.

Convergence releases the BBS's state lock every ``RECORDS_PER_SLICE`` records so that requests
are served during a long pass; slicing must not change a single decision or count. Runs the
pass in-process on two identical states, one in one slice and one in slices of a few records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import actual, convergence
from pytest_diego.cluster.bbs.cells import CellDirectory, Presence
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.state import CRASHED, RUNNING, State, Tx
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.workload.builders import desired_lrp


class Committed:
    def wait(self) -> None:
        return None


class NoStore:
    """The store writer's interface, keeping nothing (this test is about memory)."""

    def submit(self, ops: Any, after: Any) -> Committed:
        if after is not None:
            after()
        return Committed()


class Auctions:
    """The auctioneer client's interface, recording what convergence asked to place."""

    def __init__(self) -> None:
        self.lrps: list[tuple[str, tuple[int, ...]]] = []

    def request_lrps(self, requests: list[dict[str, Any]]) -> None:
        for request in requests:
            self.lrps.append((request["process_guid"], tuple(request["indices"])))


class CountingLock:
    """An RLock that counts how often it was taken from outside (not re-entered), and can run
    ``on_take(holds)`` each time: what another request would do between two slices."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.depth = 0
        self.holds = 0
        self.on_take: Callable[[int], None] | None = None

    def __enter__(self) -> CountingLock:
        self._lock.acquire()
        self.depth += 1
        if self.depth == 1:
            self.holds += 1
            if self.on_take is not None:
                self.on_take(self.holds)
        return self

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        self._lock.release()


PRESENT = {"cell-a": Presence(models.CellPresence(cell_id="cell-a"))}  # no rep_url


def cluster(tmp_path, name: str) -> tuple[Core, Auctions, CountingLock]:
    """A state with 40 LRPs in every situation convergence acts on, cell-a present, cell-b lost."""
    state = State()
    lock = state.lock = CountingLock()  # type: ignore[assignment]
    state.writer = NoStore()  # type: ignore[assignment]
    auctions = Auctions()
    logger = Logger("bbs", tmp_path / f"{name}.log")
    core = Core(state, Timing(time_scale=0.01), logger, auctions, outbound=None, hub=None,  # type: ignore[arg-type]
                cells=CellDirectory(None, logger))  # retired extras: no Locket, so removed at once
    now = time.time()
    state.domains["fresh"] = None
    tx = Tx()
    long_ago = int((now - 3600) * 1e9)
    for n in range(40):
        lrp = desired_lrp(f"app-{n}", domain="fresh" if n % 2 else "stale", instances=3)
        state.put_desired(tx, lrp)
        kind = n % 5
        for index in range(3 if kind != 0 else 1):  # kind 0: two indexes missing
            row = actual.unclaimed(lrp, index)
            row.since = long_ago  # UNCLAIMED this long is stale: auctioned again
            if kind == 1 or (kind == 2 and index == 0):
                row.state = RUNNING
                row.actual_lrp_instance_key.cell_id = "cell-a" if kind == 1 else "cell-b"
                row.actual_lrp_instance_key.instance_guid = f"{n}-{index}"
            if kind == 3 and index == 2:
                row.state, row.crash_count = CRASHED, 1
            state.put_actual(tx, row)
        if kind == 4:  # an extra index beyond the desired three
            extra = actual.unclaimed(lrp, 5)
            extra.state = RUNNING
            extra.actual_lrp_instance_key.cell_id = "cell-a"
            state.put_actual(tx, extra)
    return core, auctions, lock


def outcome(core: Core) -> set[tuple[str, int, int, str, str]]:
    return {(r.msg.actual_lrp_key.process_guid, r.msg.actual_lrp_key.index, r.msg.presence, r.msg.state,
             r.msg.actual_lrp_instance_key.cell_id) for r in core.state.all_actuals()}


def test_sliced_pass_decides_what_one_pass_decides(tmp_path, monkeypatch):
    whole, whole_auctions, whole_lock = cluster(tmp_path, "whole")
    counts_whole = convergence.converge_lrps(whole, PRESENT)

    sliced, sliced_auctions, sliced_lock = cluster(tmp_path, "sliced")
    monkeypatch.setattr(convergence, "RECORDS_PER_SLICE", 7)
    counts_sliced = convergence.converge_lrps(sliced, PRESENT)

    assert counts_sliced == counts_whole
    assert outcome(sliced) == outcome(whole)
    assert sorted(sliced_auctions.lrps) == sorted(whole_auctions.lrps)
    # every situation was met, so the comparison covers them all
    assert counts_whole["LRPsMissing"] == 16 and counts_whole["LRPsExtra"] == 8
    assert counts_whole["SuspectRunningActualLRPs"] == 8 and counts_whole["CrashingDesiredLRPs"] == 8
    assert whole_lock.holds == 3  # the list, everything in one slice, then the retired extras removed
    assert sliced_lock.holds >= 20  # ~170 records in slices of about 7: the lock was let go


@pytest.mark.parametrize("per_slice", [1, 2, 1000])
def test_every_slice_size_converges_every_process(tmp_path, monkeypatch, per_slice):
    core, auctions, _ = cluster(tmp_path, f"s{per_slice}")
    monkeypatch.setattr(convergence, "RECORDS_PER_SLICE", per_slice)
    counts = convergence.converge_lrps(core, PRESENT)
    assert counts["LRPsDesired"] == 120
    assert {guid for guid, _ in auctions.lrps} >= {f"app-{n}" for n in range(0, 40, 5)}  # missing ones


def test_a_cell_that_registers_during_a_pass_is_seen_by_the_next_one(tmp_path, monkeypatch):
    """The present cells are read once, before the pass, as Diego's convergence reads them: an
    instance running on a cell whose presence arrived meanwhile is SUSPECT for one pass, and the
    next pass, seeing the cell, keeps it and drops the replacement."""
    core, auctions, _ = cluster(tmp_path, "late-cell")
    state = core.state
    tx = Tx()
    late = desired_lrp("zz-on-late-cell", domain="fresh", instances=1)
    state.put_desired(tx, late)
    row = actual.unclaimed(late, 0)
    row.state = RUNNING
    row.actual_lrp_instance_key.cell_id = "cell-late"
    row.actual_lrp_instance_key.instance_guid = "late-0"
    state.put_actual(tx, row)
    monkeypatch.setattr(convergence, "RECORDS_PER_SLICE", 7)
    convergence.converge_lrps(core, PRESENT)
    suspect = state.actual("zz-on-late-cell", 0, models.ActualLRP.SUSPECT)
    assert suspect is not None and suspect.actual_lrp_instance_key.instance_guid == "late-0"
    assert ("zz-on-late-cell", (0,)) in auctions.lrps

    with_late = {**PRESENT, "cell-late": Presence(models.CellPresence(cell_id="cell-late"))}
    convergence.converge_lrps(core, with_late)
    after = state.actual("zz-on-late-cell", 0)
    assert after is not None and after.state == RUNNING and after.presence == models.ActualLRP.ORDINARY
    assert after.actual_lrp_instance_key.instance_guid == "late-0"
    assert state.actual("zz-on-late-cell", 0, models.ActualLRP.SUSPECT) is None
