"""DesiredLRP and ActualLRP operations: the BBS routes for LRPs, as Diego's controllers do them."""

from __future__ import annotations

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import actual, restart, validation
from pytest_diego.cluster.bbs.auction import lrp_start_request
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.errors import cannot, exists, found, invalid_fields, not_found
from pytest_diego.cluster.bbs.state import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    Tx,
    now_ns,
)


# -- DesiredLRPs ---------------------------------------------------------------------------------
def desire(core: Core, lrp: models.DesiredLRP) -> None:
    """Synchronous like Diego: desired row and one UNCLAIMED ActualLRP per index are committed and
    the start requests handed to the auctioneer before the answer."""
    validation.desired_lrp(lrp)
    guid = lrp.process_guid
    session = core.logger.session("desire-lrp", process_guid=guid)
    session.info("starting", instances=lrp.instances)
    state = core.state
    with state.lock:
        if guid in state.desired:
            raise exists()
        lrp.modification_tag.CopyFrom(actual.new_tag())
        tx = Tx()
        state.put_desired(tx, lrp)
        tx.broadcast("lrp", "desired_lrp_created", models.DesiredLRPCreatedEvent(desired_lrp=lrp))
        fresh = [actual.unclaimed(lrp, i) for i in range(lrp.instances)]
        state.put_actuals(tx, fresh)
        for a in fresh:
            actual.created(tx, a)
        pending = core.commit(tx)
    for i in range(lrp.instances):
        core.logger.info("create-unclaimed-actual-lrp.starting", process_guid=guid, index=i)
    pending.wait()
    for i in range(lrp.instances):
        core.logger.info("create-unclaimed-actual-lrp.complete", process_guid=guid, index=i)
    if lrp.instances:
        core.auctioneer.send_lrps([lrp_start_request(lrp, list(range(lrp.instances)))])
    session.info("complete")


def update(core: Core, process_guid: str, change: models.DesiredLRPUpdate) -> None:
    """Scale up/down and change routes, annotation, metric tags without restarting instances."""
    validation.desired_lrp_update(process_guid, change)
    session = core.logger.session("update-desired-lrp", process_guid=process_guid)
    session.info("starting")
    state = core.state
    with state.lock:
        rec = found(state.desired.get(process_guid))
        before = rec.msg
        after = models.DesiredLRP()
        after.CopyFrom(before)
        if change.HasField("instances"):
            after.instances = change.instances
        if change.HasField("routes"):
            after.routes.CopyFrom(change.routes)
        if change.HasField("annotation"):
            after.annotation = change.annotation
        if change.metric_tags:
            after.metric_tags.clear()
            for key, value in change.metric_tags.items():
                after.metric_tags[key].CopyFrom(value)
        if change.HasField("image_username"):
            after.image_username = change.image_username
        if change.HasField("image_password"):
            after.image_password = change.image_password
        after.modification_tag.index += 1
        tx = Tx()
        state.put_desired(tx, after)
        tx.broadcast("lrp", "desired_lrp_changed", models.DesiredLRPChangedEvent(before=before, after=after))
        by_index = state.actuals.get(process_guid, {})
        if after.instances > before.instances:
            new = [actual.unclaimed(after, i) for i in range(before.instances, after.instances)
                   if (i, ORDINARY) not in by_index]
            state.put_actuals(tx, new)
            for a in new:
                actual.created(tx, a)
            if new:
                tx.lrp_auctions.append((after, [a.actual_lrp_key.index for a in new]))
        elif after.instances < before.instances:
            for (index, _presence), arec in list(by_index.items()):
                if index >= after.instances:
                    actual.retire(core, tx, arec.msg)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete", instances=after.instances)


def remove(core: Core, process_guid: str) -> None:
    """Delete the DesiredLRP and stop every instance of it."""
    validation.required(process_guid=process_guid)
    session = core.logger.session("remove-desired-lrp", process_guid=process_guid)
    session.info("starting")
    state = core.state
    with state.lock:
        rec = found(state.desired.get(process_guid))
        tx = Tx()
        state.delete_desired(tx, process_guid)
        tx.broadcast("lrp", "desired_lrp_removed", models.DesiredLRPRemovedEvent(desired_lrp=rec.msg))
        for arec in list(state.actuals.get(process_guid, {}).values()):
            actual.retire(core, tx, arec.msg)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete")


# -- ActualLRP lifecycle (cell side) --------------------------------------------------------------
def claim(core: Core, request: models.ClaimActualLRPRequest) -> None:
    bad = actual_fields(request.process_guid, request.index) + \
        validation.instance_key_fields(request.actual_lrp_instance_key)
    if bad:
        raise invalid_fields(bad)
    key = request.actual_lrp_instance_key
    session = core.logger.session("claim-actual-lrp", process_guid=request.process_guid,
                                  index=request.index, instance_guid=key.instance_guid, cell_id=key.cell_id)
    state = core.state
    with state.lock:
        before = found(state.actual(request.process_guid, request.index))
        if not actual.allows(before, key, CLAIMED):
            raise cannot("claim")
        if before.state == CLAIMED:
            session.info("complete")
            return
        after = actual.copy(before)
        after.state = CLAIMED
        after.actual_lrp_instance_key.CopyFrom(key)
        after.ClearField("actual_lrp_net_info")
        after.placement_error = ""
        after.since = now_ns()
        tx = Tx()
        state.put_actual(tx, after)
        actual.changed(tx, before, after)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete")


def start(core: Core, request: models.StartActualLRPRequest) -> None:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    bad = validation.instance_key_fields(ikey)
    if not request.actual_lrp_net_info.address:
        bad.append("address")
    validation.actual_lrp_key(key, bad)
    session = core.logger.session("start-actual-lrp", process_guid=key.process_guid, index=key.index,
                                  instance_guid=ikey.instance_guid, cell_id=ikey.cell_id)
    state = core.state
    with state.lock:
        before = state.actual(key.process_guid, key.index)
        if before is not None and not actual.allows(before, ikey, RUNNING):
            raise cannot("start")
        if before is None:
            after = models.ActualLRP(presence=ORDINARY)
            after.actual_lrp_key.CopyFrom(key)
            after.modification_tag.CopyFrom(actual.new_tag())
        else:
            after = actual.copy(before)
        after.state = RUNNING
        after.actual_lrp_instance_key.CopyFrom(ikey)
        after.actual_lrp_net_info.CopyFrom(request.actual_lrp_net_info)
        del after.actual_lrp_internal_routes[:]
        after.actual_lrp_internal_routes.extend(request.actual_lrp_internal_routes)
        after.metric_tags.clear()
        after.metric_tags.update(request.metric_tags)
        if request.HasField("Routable"):
            after.routable = request.Routable
        else:
            after.ClearField("routable")
        after.availability_zone = request.availability_zone
        after.placement_error = ""
        if before is not None and before.state == RUNNING and _same_running(before, after):
            session.info("succeeded")
            session.info("complete")
            return
        after.since = now_ns()
        tx = Tx()
        state.put_actual(tx, after)
        if before is None:
            actual.created(tx, after)
        else:
            actual.changed(tx, before, after)
        suspect = state.actual(key.process_guid, key.index, SUSPECT)
        if suspect is not None and not actual.same_instance(suspect.actual_lrp_instance_key, ikey):
            state.delete_actual(tx, suspect)
            actual.removed(tx, suspect)
            core.logger.info("remove-suspect-actual-lrp.complete", process_guid=key.process_guid,
                             index=key.index, cell_id=actual.cell_of(suspect))
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("succeeded")
    session.info("complete")


def _same_running(before: models.ActualLRP, after: models.ActualLRP) -> bool:
    probe = models.ActualLRP()
    probe.CopyFrom(after)
    probe.since = before.since
    probe.modification_tag.CopyFrom(before.modification_tag)
    return probe == before


def crash(core: Core, request: models.CrashActualLRPRequest) -> None:
    key, ikey = request.actual_lrp_key, request.actual_lrp_instance_key
    validation.actual_lrp_key(key, validation.instance_key_fields(ikey))
    session = core.logger.session("crash-actual-lrp", process_guid=key.process_guid, index=key.index,
                                  instance_guid=ikey.instance_guid, cell_id=ikey.cell_id)
    state = core.state
    with state.lock:
        before = found(state.actual(key.process_guid, key.index))
        if not actual.allows(before, ikey, CRASHED):
            raise cannot("crash")
        now = now_ns()
        reset = core.timing.crash_reset_timeout * 1e9
        count = 1 if before.state == RUNNING and now - before.since > reset else before.crash_count + 1
        after = actual.unclaim(before)
        after.crash_count = count
        after.crash_reason = request.error_message
        after.since = now
        tx = Tx()
        crashed = models.ActualLRPCrashedEvent(crash_count=count, crash_reason=request.error_message,
                                               since=now)
        crashed.actual_lrp_key.CopyFrom(before.actual_lrp_key)
        crashed.actual_lrp_instance_key.CopyFrom(before.actual_lrp_instance_key)
        tx.event("lrp", "actual_lrp_crashed", crashed, actual.cell_of(before))
        if restart.restarts_immediately(count):
            state.put_actual(tx, after)
            actual.moved_to_unclaimed(tx, before, after)
            desired = state.desired.get(key.process_guid)
            if desired is not None:
                tx.lrp_auctions.append((desired.msg, [key.index]))
        else:
            after.state = CRASHED
            state.put_actual(tx, after)
            actual.changed(tx, before, after)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete", crash_count=count, state=after.state)


def fail(core: Core, request: models.FailActualLRPRequest) -> None:
    key = request.actual_lrp_key
    validation.actual_lrp_key(key, [] if request.error_message else ["error_message"])
    session = core.logger.session("fail-actual-lrp", process_guid=key.process_guid, index=key.index)
    state = core.state
    with state.lock:
        before = found(state.actual(key.process_guid, key.index))
        if before.state != UNCLAIMED:
            raise cannot("fail")
        after = actual.copy(before)
        after.placement_error = request.error_message
        after.since = now_ns()
        tx = Tx()
        state.put_actual(tx, after)
        actual.changed(tx, before, after)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete", placement_error=request.error_message)


def remove_actual(core: Core, request: models.RemoveActualLRPRequest) -> None:
    bad = actual_fields(request.process_guid, request.index)
    ikey = request.actual_lrp_instance_key
    given = request.HasField("actual_lrp_instance_key") and (ikey.instance_guid or ikey.cell_id)
    if bad:
        raise invalid_fields(bad)
    session = core.logger.session("remove-actual-lrp", process_guid=request.process_guid,
                                  index=request.index, instance_guid=ikey.instance_guid, cell_id=ikey.cell_id)
    state = core.state
    with state.lock:
        by_index = state.actuals.get(request.process_guid, {})
        candidates = [rec.msg for (index, presence), rec in by_index.items()
                      if index == request.index and presence != EVACUATING]
        if not candidates:
            raise not_found()
        if given:
            matching = [c for c in candidates if actual.same_instance(c.actual_lrp_instance_key, ikey)]
            if not matching:
                raise cannot("remove")
            target = matching[0]
        else:
            target = next((c for c in candidates if c.presence == ORDINARY), candidates[0])
        tx = Tx()
        state.delete_actual(tx, target)
        actual.removed(tx, target)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete")


def retire(core: Core, request: models.RetireActualLRPRequest) -> None:
    key = request.actual_lrp_key
    validation.actual_lrp_key(key)
    session = core.logger.session("retire-actual-lrp", process_guid=key.process_guid, index=key.index)
    state = core.state
    with state.lock:
        before = found(state.actual(key.process_guid, key.index))
        tx = Tx()
        actual.retire(core, tx, before)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete")


def actual_fields(process_guid: str, index: int) -> list[str]:
    bad = []
    if not process_guid:
        bad.append("process_guid")
    if index < 0:
        bad.append("index")
    return bad
