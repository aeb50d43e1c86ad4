"""ActualLRP helpers shared by the handlers and convergence: building records, Diego's transition
rule (``AllowsTransitionTo``), the events each change emits, and retiring an instance."""

from __future__ import annotations

import uuid

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs.state import (
    CLAIMED,
    CRASHED,
    RUNNING,
    UNCLAIMED,
    Tx,
    now_ns,
)
from pytest_diego.locket.errors import LocketClientError


def new_tag() -> models.ModificationTag:
    return models.ModificationTag(epoch=str(uuid.uuid4()), index=0)


def unclaimed(desired: models.DesiredLRP, index: int, crash_count: int = 0,
              crash_reason: str = "") -> models.ActualLRP:
    lrp = models.ActualLRP(state=UNCLAIMED, since=now_ns(), crash_count=crash_count,
                           crash_reason=crash_reason)
    lrp.actual_lrp_key.process_guid = desired.process_guid
    lrp.actual_lrp_key.index = index
    lrp.actual_lrp_key.domain = desired.domain
    lrp.modification_tag.CopyFrom(new_tag())
    return lrp


def copy(lrp: models.ActualLRP) -> models.ActualLRP:
    after = models.ActualLRP()
    after.CopyFrom(lrp)
    after.modification_tag.index += 1
    return after


def same_instance(a: models.ActualLRPInstanceKey, b: models.ActualLRPInstanceKey) -> bool:
    return a.instance_guid == b.instance_guid and a.cell_id == b.cell_id


def allows(before: models.ActualLRP, key: models.ActualLRPInstanceKey, new_state: str) -> bool:
    """Diego's ``ActualLRP.AllowsTransitionTo`` (docs/diego-facts.md §11.7)."""
    empty = not key.instance_guid and not key.cell_id
    same = same_instance(before.actual_lrp_instance_key, key)
    if before.state == UNCLAIMED:
        return new_state in (UNCLAIMED, CLAIMED, RUNNING)
    if before.state == CLAIMED:
        return (new_state == UNCLAIMED and empty) or (new_state == CLAIMED and same) \
            or new_state == RUNNING or (new_state == CRASHED and same)
    if before.state == RUNNING:
        return (new_state == UNCLAIMED and empty) or (new_state in (CLAIMED, RUNNING, CRASHED) and same)
    if before.state == CRASHED:
        return (new_state == UNCLAIMED and empty) or (new_state in (CLAIMED, RUNNING) and same)
    return False


def info(lrp: models.ActualLRP) -> models.ActualLRPInfo:
    out = models.ActualLRPInfo(
        crash_count=lrp.crash_count, crash_reason=lrp.crash_reason, state=lrp.state,
        placement_error=lrp.placement_error, since=lrp.since, presence=lrp.presence,
        availability_zone=lrp.availability_zone,
    )
    out.actual_lrp_net_info.CopyFrom(lrp.actual_lrp_net_info)
    out.modification_tag.CopyFrom(lrp.modification_tag)
    if lrp.HasField("routable"):
        out.Routable = lrp.routable
    return out


def cell_of(lrp: models.ActualLRP) -> str:
    return lrp.actual_lrp_instance_key.cell_id


def created(tx: Tx, lrp: models.ActualLRP) -> None:
    tx.event("lrp", "actual_lrp_instance_created",
             models.ActualLRPInstanceCreatedEvent(actual_lrp=lrp), cell_of(lrp))


def removed(tx: Tx, lrp: models.ActualLRP) -> None:
    tx.event("lrp", "actual_lrp_instance_removed",
             models.ActualLRPInstanceRemovedEvent(actual_lrp=lrp), cell_of(lrp))


def changed(tx: Tx, before: models.ActualLRP, after: models.ActualLRP) -> None:
    event = models.ActualLRPInstanceChangedEvent(before=info(before), after=info(after))
    event.actual_lrp_key.CopyFrom(after.actual_lrp_key)
    event.actual_lrp_instance_key.CopyFrom(
        after.actual_lrp_instance_key if cell_of(after) else before.actual_lrp_instance_key
    )
    tx.event("lrp", "actual_lrp_instance_changed", event, cell_of(before), cell_of(after))


def moved_to_unclaimed(tx: Tx, before: models.ActualLRP, after: models.ActualLRP) -> None:
    """A move to UNCLAIMED from CLAIMED/RUNNING/CRASHED is a new instance: removed + created."""
    removed(tx, before)
    created(tx, after)


def unclaim(before: models.ActualLRP) -> models.ActualLRP:
    """The same index back to UNCLAIMED, off its cell, crash count kept (restart or re-place)."""
    after = copy(before)
    after.state = UNCLAIMED
    after.since = now_ns()
    after.ClearField("actual_lrp_instance_key")
    after.ClearField("actual_lrp_net_info")
    after.ClearField("actual_lrp_internal_routes")
    after.placement_error = ""
    return after


def retire(core, tx: Tx, lrp: models.ActualLRP) -> None:
    """Stop one instance like Diego's RetireActualLRP: rows not on a cell are removed; a running
    or claimed instance is stopped through its cell's rep (which then calls RemoveActualLRP),
    and removed directly when its cell has no presence or does not answer. The cells are asked
    of Locket after the commit, outside the state lock, once for every instance the change retires."""
    state = core.state
    if lrp.state in (UNCLAIMED, CRASHED):
        state.delete_actual(tx, lrp)
        removed(tx, lrp)
        return
    if not tx.retirements:
        tx.after.append(lambda: _retire_on_cells(core, tx.retirements))
    tx.retirements.append(lrp)


def _retire_on_cells(core, lrps: list[models.ActualLRP]) -> None:
    """Diego's ``CellById`` then ``StopLRPInstance`` for each instance; no presence: remove it."""
    try:
        cells = core.cells.cells_of({cell_of(lrp) for lrp in lrps})
    except LocketClientError as e:  # left as they are: convergence retires them again
        core.logger.error("retire-actual-lrp.failed-fetching-cells", e, instances=len(lrps))
        return
    gone = []
    for lrp in lrps:
        cell = cells.get(cell_of(lrp))
        if cell is not None and cell.msg.rep_url:
            core.outbound.submit(_stop_on_cell, core, lrp, cell.msg.rep_url)
        else:
            gone.append(lrp)
    if gone:
        _remove_if_unchanged(core, gone)


def _stop_on_cell(core, lrp: models.ActualLRP, rep_url: str) -> None:
    key, instance = lrp.actual_lrp_key, lrp.actual_lrp_instance_key
    if core.outbound.stop_lrp_instance(rep_url, key.process_guid, instance.instance_guid):
        return
    core.logger.info("retire-actual-lrp.stop-on-cell-failed-removing", process_guid=key.process_guid,
                     index=key.index, cell_id=instance.cell_id)
    _remove_if_unchanged(core, [lrp])


def _remove_if_unchanged(core, lrps: list[models.ActualLRP]) -> None:
    """Remove each row that is still the same instance on the same cell."""
    tx = Tx()
    with core.state.lock:
        for lrp in lrps:
            key, instance = lrp.actual_lrp_key, lrp.actual_lrp_instance_key
            current = core.state.actual(key.process_guid, key.index, lrp.presence)
            if current is None or not same_instance(current.actual_lrp_instance_key, instance):
                continue
            core.state.delete_actual(tx, current)
            removed(tx, current)
        pending = core.commit(tx) if tx.ops else None
    if pending is not None:
        core.apply(tx, pending)
