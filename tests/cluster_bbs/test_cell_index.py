"""The BBS's per-cell index of ActualLRPs and Tasks answers exactly what a full scan would.

Reps' bulk syncs read through the index, so an entry left behind after a record moved cell or
was deleted would tell a rep to keep (or a missing one to drop) work that is not its own.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs.state import State, Tx

CELLS = ["", "cell-a", "cell-b", "cell-c"]  # "" is an UNCLAIMED ActualLRP / PENDING Task

actual_op = st.tuples(st.sampled_from(["put", "put_many", "delete"]), st.sampled_from(["p0", "p1"]),
                      st.integers(0, 2), st.integers(0, 2), st.sampled_from(CELLS))
task_op = st.tuples(st.sampled_from(["put", "delete"]), st.sampled_from(["t0", "t1", "t2"]),
                    st.sampled_from(CELLS))


def actual_lrp(guid: str, index: int, presence: int, cell: str) -> models.ActualLRP:
    lrp = models.ActualLRP(presence=presence)
    lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index = guid, index
    lrp.actual_lrp_instance_key.cell_id = cell
    return lrp


def scan_actuals(state: State, cell: str) -> set[tuple[str, int, int]]:
    return {(r.msg.actual_lrp_key.process_guid, r.msg.actual_lrp_key.index, r.msg.presence)
            for r in state.all_actuals() if r.msg.actual_lrp_instance_key.cell_id == cell}


@settings(max_examples=200, deadline=None)
@given(st.lists(actual_op, max_size=40), st.lists(task_op, max_size=30))
def test_cell_index_matches_a_full_scan(actual_ops, task_ops):
    state, tx = State(), Tx()
    for op, guid, index, presence, cell in actual_ops:
        lrp = actual_lrp(guid, index, presence, cell)
        if op == "put":
            state.put_actual(tx, lrp)
        elif op == "put_many":
            state.put_actuals(tx, [lrp])
        else:
            state.delete_actual(tx, lrp)
    for op, guid, cell in task_ops:
        if op == "put":
            state.put_task(tx, models.Task(task_guid=guid, cell_id=cell))
        elif guid in state.tasks:
            state.delete_task(tx, guid)
    for cell in CELLS[1:]:
        indexed = {(r.msg.actual_lrp_key.process_guid, r.msg.actual_lrp_key.index, r.msg.presence)
                   for r in state.actuals_on(cell)}
        assert indexed == scan_actuals(state, cell)
        assert {r.msg.task_guid for r in state.tasks_on(cell)} == \
            {g for g, r in state.tasks.items() if r.msg.cell_id == cell}
    assert "" not in state.actuals_by_cell and "" not in state.tasks_by_cell
    assert all(state.actuals_by_cell.values()) and all(state.tasks_by_cell.values())  # no empty entries
