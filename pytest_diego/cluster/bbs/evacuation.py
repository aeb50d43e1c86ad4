"""The Evacuate* routes a draining cell calls, simplified from Diego's evacuation controller:
a running instance keeps an EVACUATING copy while its replacement is auctioned; the copy goes
when the replacement runs, or when the cell reports the instance stopped or crashed."""

from __future__ import annotations

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import actual, lrps, validation
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.errors import not_found
from pytest_diego.cluster.bbs.state import CLAIMED, EVACUATING, RUNNING, Tx


def _validate(key: models.ActualLRPKey, ikey: models.ActualLRPInstanceKey) -> None:
    validation.actual_lrp_key(key, validation.instance_key_fields(ikey))


def _drop_evacuating(core: Core, tx: Tx, key: models.ActualLRPKey, ikey) -> bool:
    evacuating = core.state.actual(key.process_guid, key.index, EVACUATING)
    if evacuating is not None and actual.same_instance(evacuating.actual_lrp_instance_key, ikey):
        core.state.delete_actual(tx, evacuating)
        actual.removed(tx, evacuating)
        return True
    return False


def _unclaim_ordinary(core: Core, tx: Tx, key: models.ActualLRPKey, ikey) -> None:
    ordinary = core.state.actual(key.process_guid, key.index)
    if ordinary is not None and ordinary.state in (CLAIMED, RUNNING) and \
            actual.same_instance(ordinary.actual_lrp_instance_key, ikey):
        after = actual.unclaim(ordinary)
        core.state.put_actual(tx, after)
        actual.moved_to_unclaimed(tx, ordinary, after)
        desired = core.state.desired.get(key.process_guid)
        if desired is not None:
            tx.lrp_auctions.append((desired.msg, [key.index]))


def _run(core: Core, build) -> bool:
    with core.state.lock:
        tx = Tx()
        keep = build(tx)
        pending = core.commit(tx)
    core.apply(tx, pending)
    return keep


def evacuate_claimed(core: Core, request: models.EvacuateClaimedActualLRPRequest) -> bool:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    _validate(key, ikey)

    def build(tx: Tx) -> bool:
        _drop_evacuating(core, tx, key, ikey)
        _unclaim_ordinary(core, tx, key, ikey)
        return False

    return _run(core, build)


def evacuate_running(core: Core, request: models.EvacuateRunningActualLRPRequest) -> bool:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    _validate(key, ikey)

    def build(tx: Tx) -> bool:
        ordinary = core.state.actual(key.process_guid, key.index)
        if ordinary is None:
            _drop_evacuating(core, tx, key, ikey)
            return False
        if ordinary.state == RUNNING and not actual.same_instance(ordinary.actual_lrp_instance_key, ikey):
            _drop_evacuating(core, tx, key, ikey)
            return False
        if core.state.actual(key.process_guid, key.index, EVACUATING) is None:
            evacuating = actual.copy(ordinary) if actual.same_instance(
                ordinary.actual_lrp_instance_key, ikey) else models.ActualLRP()
            evacuating.actual_lrp_key.CopyFrom(ordinary.actual_lrp_key)
            evacuating.actual_lrp_instance_key.CopyFrom(ikey)
            evacuating.actual_lrp_net_info.CopyFrom(request.actual_lrp_net_info)
            evacuating.state = RUNNING
            evacuating.presence = EVACUATING
            if not evacuating.modification_tag.epoch:
                evacuating.modification_tag.CopyFrom(actual.new_tag())
            core.state.put_actual(tx, evacuating)
            actual.created(tx, evacuating)
        _unclaim_ordinary(core, tx, key, ikey)
        return True

    return _run(core, build)


def evacuate_stopped(core: Core, request: models.EvacuateStoppedActualLRPRequest) -> bool:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    _validate(key, ikey)

    def build(tx: Tx) -> bool:
        _drop_evacuating(core, tx, key, ikey)
        ordinary = core.state.actual(key.process_guid, key.index)
        if ordinary is not None and actual.same_instance(ordinary.actual_lrp_instance_key, ikey):
            core.state.delete_actual(tx, ordinary)
            actual.removed(tx, ordinary)
        return False

    return _run(core, build)


def evacuate_crashed(core: Core, request: models.EvacuateCrashedActualLRPRequest) -> bool:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    _validate(key, ikey)
    _run(core, lambda tx: _drop_evacuating(core, tx, key, ikey))
    ordinary = core.state.actual(key.process_guid, key.index)
    if ordinary is not None and actual.same_instance(ordinary.actual_lrp_instance_key, ikey):
        crash = models.CrashActualLRPRequest(error_message=request.error_message)
        crash.actual_lrp_key.CopyFrom(ordinary.actual_lrp_key)
        crash.actual_lrp_instance_key.CopyFrom(ikey)
        lrps.crash(core, crash)
    return False


def remove_evacuating(core: Core, request: models.RemoveEvacuatingActualLRPRequest) -> None:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    _validate(key, ikey)

    def build(tx: Tx) -> bool:
        if not _drop_evacuating(core, tx, key, ikey):
            raise not_found()
        return False

    _run(core, build)
