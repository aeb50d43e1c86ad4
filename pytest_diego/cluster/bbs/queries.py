"""The store's reads: the filter of each BBS list and lookup route, run over ``State`` under its lock.

Diego's handlers ask the store (``db/sqldb``) for filtered records and only encode the answer;
these functions are that store side for the in-memory state. List reads hand back the records'
stored bytes, so a list response is built without re-encoding a message (``wire.repeated``).
"""

from __future__ import annotations

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import validation
from pytest_diego.cluster.bbs.errors import found
from pytest_diego.cluster.bbs.state import EVACUATING, ORDINARY, SUSPECT, Rec, State

GroupKey = tuple[str, int]  # process_guid, index


# -- domains -------------------------------------------------------------------------
def fresh_domains(state: State) -> list[str]:
    with state.lock:
        return sorted(state.fresh_domains())


# -- ActualLRPs --------------------------------------------------------------------------------
def actual_lrp_blobs(state: State, domain: str, cell_id: str, process_guid: str,
                     index: int | None) -> list[bytes]:
    """ActualLRPs matching every filter given (empty string / None: no filter)."""
    with state.lock:
        if process_guid:
            recs = list(state.actuals.get(process_guid, {}).values())
        elif cell_id:
            recs = state.actuals_on(cell_id)
        else:
            recs = state.all_actuals()
        return [
            rec.blob for rec in recs
            if (not domain or rec.msg.actual_lrp_key.domain == domain)
            and (not cell_id or rec.msg.actual_lrp_instance_key.cell_id == cell_id)
            and (index is None or rec.msg.actual_lrp_key.index == index)
        ]


def actual_lrp_blobs_of(state: State, process_guids: list[str]) -> list[bytes]:
    with state.lock:
        return [rec.blob for guid in process_guids for rec in state.actuals.get(guid, {}).values()]


def actual_lrp_groups(state: State, process_guids: list[str] | None, domain: str = "",
                      cell_id: str = "") -> dict[GroupKey, models.ActualLRPGroup]:
    """The deprecated group view: per (process_guid, index), the ordinary instance (a SUSPECT one
    when there is no ordinary) and the evacuating one."""
    groups: dict[GroupKey, models.ActualLRPGroup] = {}
    with state.lock:
        if process_guids is None and cell_id:  # a rep's own records: its cell's index, not a scan
            process_guids = sorted({guid for guid, _, _ in state.actuals_by_cell.get(cell_id, {})})
        for guid in process_guids if process_guids is not None else list(state.actuals):
            for (index, presence), rec in sorted(state.actuals.get(guid, {}).items()):
                lrp = rec.msg
                if domain and lrp.actual_lrp_key.domain != domain:
                    continue
                if cell_id and lrp.actual_lrp_instance_key.cell_id != cell_id:
                    continue
                group = groups.setdefault((guid, index), models.ActualLRPGroup())
                if presence == EVACUATING:
                    group.evacuating.CopyFrom(lrp)
                elif presence == ORDINARY or (presence == SUSPECT and not group.HasField("instance")):
                    group.instance.CopyFrom(lrp)
    return groups


def actual_lrp_group(state: State, process_guid: str, index: int) -> models.ActualLRPGroup:
    return found(actual_lrp_groups(state, [process_guid]).get((process_guid, index)))


# -- DesiredLRPs -------------------------------------------------------------------------------
def desired_lrps(state: State, domain: str, process_guids: list[str], app_guids: list[str]) -> list[Rec]:
    """DesiredLRPs matching the filter of a ``DesiredLRPsRequest`` (empty: no filter)."""
    with state.lock:
        recs = ([state.desired[g] for g in process_guids if g in state.desired]
                if process_guids else list(state.desired.values()))
    apps = set(app_guids)
    return [
        rec for rec in recs
        if (not domain or rec.msg.domain == domain)
        and (not apps or _app_guid(rec.msg) in apps)
    ]


def desired_lrp(state: State, process_guid: str) -> Rec:
    validation.required(process_guid=process_guid)
    return found(state.desired.get(process_guid))


def scheduling_info(d: models.DesiredLRP) -> models.DesiredLRPSchedulingInfo:
    """What the auctioneer and reps need of a DesiredLRP (Diego's ``DesiredLRPSchedulingInfo()``)."""
    info = models.DesiredLRPSchedulingInfo(annotation=d.annotation, instances=d.instances,
                                           PlacementTags=list(d.PlacementTags))
    info.desired_lrp_key.process_guid = d.process_guid
    info.desired_lrp_key.domain = d.domain
    info.desired_lrp_key.log_guid = d.log_guid
    info.desired_lrp_resource.memory_mb = d.memory_mb
    info.desired_lrp_resource.disk_mb = d.disk_mb
    info.desired_lrp_resource.root_fs = d.root_fs
    info.desired_lrp_resource.max_pids = d.max_pids
    info.routes.CopyFrom(d.routes)
    info.modification_tag.CopyFrom(d.modification_tag)
    return info


def routing_info(d: models.DesiredLRP) -> models.DesiredLRP:
    """What the route emitter needs of a DesiredLRP (Diego's ``DesiredLRPRoutingInfos``)."""
    info = models.DesiredLRP(process_guid=d.process_guid, domain=d.domain, log_guid=d.log_guid,
                             instances=d.instances)
    info.routes.CopyFrom(d.routes)
    info.modification_tag.CopyFrom(d.modification_tag)
    for key, value in d.metric_tags.items():
        info.metric_tags[key].CopyFrom(value)
    return info


def _app_guid(lrp: models.DesiredLRP) -> str:
    """The app a DesiredLRP belongs to, from Cloud Controller's ``app_id`` metric tag."""
    tag = lrp.metric_tags.get("app_id") if "app_id" in lrp.metric_tags else None
    return tag.static if tag is not None else ""


# -- Tasks -------------------------------------------------------------------------------------
def task_blobs(state: State, domain: str, cell_id: str) -> list[bytes]:
    with state.lock:
        recs = state.tasks_on(cell_id) if cell_id else state.tasks.values()
        return [rec.blob for rec in recs
                if (not domain or rec.msg.domain == domain)
                and (not cell_id or rec.msg.cell_id == cell_id)]


def task(state: State, task_guid: str) -> Rec:
    validation.required(task_guid=task_guid)
    return found(state.tasks.get(task_guid))
