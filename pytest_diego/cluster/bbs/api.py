"""The BBS route table: decode the protobuf request, run the operation, encode the response.

Every route is a POST answered with HTTP 200 and the error in band; unknown paths get 404 and
other methods 405, like Diego's BBS. Each request is logged as lager ``request.serving`` /
``request.done`` (the pair perfchug reads) and counted in RequestCount/RequestLatency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from pytest_diego.bbs import models
from pytest_diego.bbs.routes import DEPRECATED_ROUTES, EMBEDDED_ROUTES, ROUTES
from pytest_diego.cluster.bbs import evacuation, lrps, tasks, validation, wire
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.db import StoreError
from pytest_diego.cluster.bbs.errors import ModelError, bad_request, not_found
from pytest_diego.cluster.bbs.events import Subscriber
from pytest_diego.cluster.bbs.httpserver import Request, Response
from pytest_diego.cluster.bbs.metrics import Metrics
from pytest_diego.cluster.bbs.schema import UPSERT_DOMAIN, UPSERT_PRESENCE
from pytest_diego.cluster.bbs.state import EVACUATING, ORDINARY, SUSPECT, Rec, Tx

PROTOBUF = "application/x-protobuf"
SSE = "text/event-stream; charset=utf-8"


@dataclass
class Route:
    name: str
    request: type | None
    response: type | None
    handler: Callable[[Any], Any]
    stream: bool = False


class Api:
    """The request handler for the BBS listener (``httpserver.Handler``)."""

    def __init__(self, core: Core, metrics: Metrics) -> None:
        self.core = core
        self.metrics = metrics
        self.stopping = False
        self.routes: dict[str, Route] = {}
        self._build()

    # -- dispatch ---------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        route = self.routes.get(request.path)
        if route is None:
            return Response(404, f"no BBS route {request.path}\n".encode(), "text/plain")
        if request.method != "POST":
            return Response(405, b"BBS routes take POST\n", "text/plain")
        session = self.core.logger.session("request", method=request.method, request=request.path)
        session.info("serving")
        started = time.perf_counter()
        try:
            return self._serve(route, request.body)
        finally:
            self.metrics.requests.observe(route.name, time.perf_counter() - started)
            session.info("done")

    def _serve(self, route: Route, body: bytes) -> Response:
        try:
            message = None
            if route.request is not None:
                message = route.request()
                try:
                    message.ParseFromString(body)
                except (DecodeError, ValueError) as e:
                    raise bad_request() from e
            if route.stream:
                return route.handler(message)
            result = route.handler(message)
        except ModelError as e:
            result = self._error(route, e.type, e.message)
        except StoreError as e:
            self.core.logger.error("request.store-failed", e)
            result = self._error(route, "UnknownError", str(e))
        if isinstance(result, Response):
            return result
        if not isinstance(result, bytes):
            result = result.SerializeToString()
        return Response(200, result, PROTOBUF)

    @staticmethod
    def _error(route: Route, type_name: str, message: str) -> Any:
        if route.response is None:
            return Response(400, f"{type_name}: {message}\n".encode(), "text/plain")
        response = route.response()
        response.error.type = models.Error.Type.Value(type_name)
        response.error.message = message
        return response

    # -- table ------------------------------------------------------------------------------
    def _build(self) -> None:
        c = self.core
        m = models
        paths = {**ROUTES, **DEPRECATED_ROUTES, **EMBEDDED_ROUTES}

        def add(name: str, req: type | None, resp: type | None, fn: Callable[[Any], Any],
                stream: bool = False) -> None:
            self.routes[paths[name]] = Route(name, req, resp, fn, stream)

        def lifecycle(fn: Callable[[Core, Any], None], resp: type) -> Callable[[Any], Any]:
            def run(req: Any) -> Any:
                fn(c, req)
                return resp()
            return run

        def evacuate(fn: Callable[[Core, Any], bool]) -> Callable[[Any], Any]:
            return lambda req: m.EvacuationResponse(keep_container=fn(c, req))

        add("Ping", None, None, lambda _: m.PingResponse(available=True))
        add("Domains", None, m.DomainsResponse, lambda _: self._domains())
        add("UpsertDomain", m.UpsertDomainRequest, m.UpsertDomainResponse, self._upsert_domain)
        add("Cells", None, m.CellsResponse, lambda _: self._cells())
        add("UpsertCellPresence", m.CellPresence, None, self._upsert_presence)

        add("ActualLRPs", m.ActualLRPsRequest, m.ActualLRPsResponse, self._actual_lrps)
        add("ActualLRPsByProcessGuids", m.ActualLRPsByProcessGuidsRequest,
            m.ActualLRPsByProcessGuidsResponse, self._actual_lrps_by_guids)
        add("ActualLRPGroups", m.ActualLRPGroupsRequest, m.ActualLRPGroupsResponse, self._groups)
        add("ActualLRPGroupsByProcessGuid", m.ActualLRPGroupsByProcessGuidRequest,
            m.ActualLRPGroupsResponse, self._groups)
        add("ActualLRPGroupsByProcessGuidAndIndex", m.ActualLRPGroupByProcessGuidAndIndexRequest,
            m.ActualLRPGroupResponse, self._group)
        add("ClaimActualLRP", m.ClaimActualLRPRequest, m.ActualLRPLifecycleResponse,
            lifecycle(lrps.claim, m.ActualLRPLifecycleResponse))
        for name in ("StartActualLRP", "StartActualLRP_r0"):
            add(name, m.StartActualLRPRequest, m.ActualLRPLifecycleResponse,
                lifecycle(lrps.start, m.ActualLRPLifecycleResponse))
        add("CrashActualLRP", m.CrashActualLRPRequest, m.ActualLRPLifecycleResponse,
            lifecycle(lrps.crash, m.ActualLRPLifecycleResponse))
        add("FailActualLRP", m.FailActualLRPRequest, m.ActualLRPLifecycleResponse,
            lifecycle(lrps.fail, m.ActualLRPLifecycleResponse))
        add("RemoveActualLRP", m.RemoveActualLRPRequest, m.ActualLRPLifecycleResponse,
            lifecycle(lrps.remove_actual, m.ActualLRPLifecycleResponse))
        add("RetireActualLRP", m.RetireActualLRPRequest, m.ActualLRPLifecycleResponse,
            lifecycle(lrps.retire, m.ActualLRPLifecycleResponse))
        add("RemoveEvacuatingActualLRP", m.RemoveEvacuatingActualLRPRequest,
            m.RemoveEvacuatingActualLRPResponse,
            lifecycle(evacuation.remove_evacuating, m.RemoveEvacuatingActualLRPResponse))
        add("EvacuateClaimedActualLRP", m.EvacuateClaimedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_claimed))
        add("EvacuateCrashedActualLRP", m.EvacuateCrashedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_crashed))
        add("EvacuateStoppedActualLRP", m.EvacuateStoppedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_stopped))
        for name in ("EvacuateRunningActualLRP", "EvacuateRunningActualLRP_r0"):
            add(name, m.EvacuateRunningActualLRPRequest, m.EvacuationResponse,
                evacuate(evacuation.evacuate_running))

        add("DesiredLRPSchedulingInfos", m.DesiredLRPsRequest, m.DesiredLRPSchedulingInfosResponse,
            self._scheduling_infos)
        add("DesiredLRPSchedulingInfoByProcessGuid", m.DesiredLRPByProcessGuidRequest,
            m.DesiredLRPSchedulingInfoByProcessGuidResponse, self._scheduling_info)
        add("DesiredLRPRoutingInfos", m.DesiredLRPsRequest, m.DesiredLRPsResponse, self._routing_infos)
        for name in ("DesiredLRPs", "DesiredLRPs_r2"):
            add(name, m.DesiredLRPsRequest, m.DesiredLRPsResponse, self._desired_lrps)
        for name in ("DesiredLRPByProcessGuid", "DesiredLRPByProcessGuid_r2"):
            add(name, m.DesiredLRPByProcessGuidRequest, m.DesiredLRPResponse, self._desired_lrp)
        add("DesireDesiredLRP", m.DesireLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: (lrps.desire(c, req.desired_lrp), m.DesiredLRPLifecycleResponse())[1])
        add("UpdateDesireLRP", m.UpdateDesiredLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: (lrps.update(c, req.process_guid, req.update), m.DesiredLRPLifecycleResponse())[1])
        add("RemoveDesiredLRP", m.RemoveDesiredLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: (lrps.remove(c, req.process_guid), m.DesiredLRPLifecycleResponse())[1])

        for name in ("Tasks", "Tasks_r2"):
            add(name, m.TasksRequest, m.TasksResponse, self._tasks)
        for name in ("TaskByGuid", "TaskByGuid_r2"):
            add(name, m.TaskByGuidRequest, m.TaskResponse, self._task)
        add("DesireTask", m.DesireTaskRequest, m.TaskLifecycleResponse,
            lifecycle(tasks.desire, m.TaskLifecycleResponse))
        add("StartTask", m.StartTaskRequest, m.StartTaskResponse,
            lambda req: m.StartTaskResponse(should_start=tasks.start(c, req.task_guid, req.cell_id)))
        add("CancelTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: (tasks.cancel(c, req.task_guid), m.TaskLifecycleResponse())[1])
        add("FailTask", m.FailTaskRequest, m.TaskLifecycleResponse,
            lambda req: (tasks.fail(c, req.task_guid, req.failure_reason), m.TaskLifecycleResponse())[1])
        add("RejectTask", m.RejectTaskRequest, m.TaskLifecycleResponse,
            lambda req: (tasks.reject(c, req.task_guid, req.rejection_reason), m.TaskLifecycleResponse())[1])
        add("CompleteTask", m.CompleteTaskRequest, m.TaskLifecycleResponse,
            lifecycle(tasks.complete, m.TaskLifecycleResponse))
        add("ResolvingTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: (tasks.resolving(c, req.task_guid), m.TaskLifecycleResponse())[1])
        add("DeleteTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: (tasks.delete(c, req.task_guid), m.TaskLifecycleResponse())[1])

        for name, stream in (("LRPInstanceEventStream", "lrp"), ("LrpInstanceEventStream_r0", "lrp"),
                             ("TaskEventStream", "task"), ("TaskEventStream_r0", "task")):
            add(name, m.EventsByCellId, None, self._subscriber(stream), stream=True)

    # -- reads ------------------------------------------------------------------------------
    def _domains(self) -> models.DomainsResponse:
        with self.core.state.lock:
            fresh = sorted(self.core.state.fresh_domains())
        return models.DomainsResponse(domains=fresh)

    def _cells(self) -> bytes:
        with self.core.state.lock:
            blobs = [rec.blob for rec in self.core.state.present_cells().values()]
        return wire.repeated(2, blobs)

    def _actual_lrps(self, req: models.ActualLRPsRequest) -> bytes:
        state = self.core.state
        has_index = req.HasField("index")
        with state.lock:
            if req.process_guid:
                recs = list(state.actuals.get(req.process_guid, {}).values())
            elif req.cell_id:
                recs = state.actuals_on(req.cell_id)
            else:
                recs = state.all_actuals()
            blobs = [
                rec.blob for rec in recs
                if (not req.domain or rec.msg.actual_lrp_key.domain == req.domain)
                and (not req.cell_id or rec.msg.actual_lrp_instance_key.cell_id == req.cell_id)
                and (not has_index or rec.msg.actual_lrp_key.index == req.index)
            ]
        return wire.repeated(2, blobs)

    def _actual_lrps_by_guids(self, req: models.ActualLRPsByProcessGuidsRequest) -> bytes:
        state = self.core.state
        with state.lock:
            blobs = [rec.blob for guid in req.process_guids
                     for rec in state.actuals.get(guid, {}).values()]
        return wire.repeated(2, blobs)

    def _group_map(self, guids: list[str] | None, domain: str = "", cell_id: str = ""):
        state = self.core.state
        groups: dict[tuple[str, int], models.ActualLRPGroup] = {}
        with state.lock:
            if guids is None and cell_id:  # a rep's own records: its cell's index, not a scan
                guids = sorted({guid for guid, _, _ in state.actuals_by_cell.get(cell_id, {})})
            for guid in guids if guids is not None else list(state.actuals):
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

    def _groups(self, req: Any) -> models.ActualLRPGroupsResponse:
        if isinstance(req, models.ActualLRPGroupsByProcessGuidRequest):
            groups = self._group_map([req.process_guid])
        else:
            groups = self._group_map(None, req.domain, req.cell_id)
        return models.ActualLRPGroupsResponse(actual_lrp_groups=list(groups.values()))

    def _group(self, req: models.ActualLRPGroupByProcessGuidAndIndexRequest) -> Any:
        group = self._group_map([req.process_guid]).get((req.process_guid, req.index))
        if group is None:
            raise not_found()
        return models.ActualLRPGroupResponse(actual_lrp_group=group)

    def _matching_desired(self, req: models.DesiredLRPsRequest) -> list[Rec]:
        state = self.core.state
        with state.lock:
            recs = ([state.desired[g] for g in req.process_guids if g in state.desired]
                    if req.process_guids else list(state.desired.values()))
        apps = set(req.app_guids)
        return [
            rec for rec in recs
            if (not req.domain or rec.msg.domain == req.domain)
            and (not apps or _app_guid(rec.msg) in apps)
        ]

    def _desired_lrps(self, req: models.DesiredLRPsRequest) -> bytes:
        return wire.repeated(2, [rec.blob for rec in self._matching_desired(req)])

    def _desired_rec(self, process_guid: str) -> Rec:
        validation.required(process_guid=process_guid)
        rec = self.core.state.desired.get(process_guid)
        if rec is None:
            raise not_found()
        return rec

    def _desired_lrp(self, req: models.DesiredLRPByProcessGuidRequest) -> bytes:
        return wire.repeated(2, [self._desired_rec(req.process_guid).blob])

    def _scheduling_infos(self, req: models.DesiredLRPsRequest) -> Any:
        infos = [scheduling_info(rec.msg) for rec in self._matching_desired(req)]
        return models.DesiredLRPSchedulingInfosResponse(desired_lrp_scheduling_infos=infos)

    def _scheduling_info(self, req: models.DesiredLRPByProcessGuidRequest) -> Any:
        info = scheduling_info(self._desired_rec(req.process_guid).msg)
        return models.DesiredLRPSchedulingInfoByProcessGuidResponse(desired_lrp_scheduling_info=info)

    def _routing_infos(self, req: models.DesiredLRPsRequest) -> Any:
        out = []
        for rec in self._matching_desired(req):
            d = rec.msg
            info = models.DesiredLRP(process_guid=d.process_guid, domain=d.domain, log_guid=d.log_guid,
                                     instances=d.instances)
            info.routes.CopyFrom(d.routes)
            info.modification_tag.CopyFrom(d.modification_tag)
            for key, value in d.metric_tags.items():
                info.metric_tags[key].CopyFrom(value)
            out.append(info)
        return models.DesiredLRPsResponse(desired_lrps=out)

    def _tasks(self, req: models.TasksRequest) -> bytes:
        state = self.core.state
        with state.lock:
            recs = state.tasks_on(req.cell_id) if req.cell_id else state.tasks.values()
            blobs = [rec.blob for rec in recs
                     if (not req.domain or rec.msg.domain == req.domain)
                     and (not req.cell_id or rec.msg.cell_id == req.cell_id)]
        return wire.repeated(2, blobs)

    def _task(self, req: models.TaskByGuidRequest) -> bytes:
        validation.required(task_guid=req.task_guid)
        rec = self.core.state.tasks.get(req.task_guid)
        if rec is None:
            raise not_found()
        return wire.repeated(2, [rec.blob])

    # -- writes outside the LRP/Task lifecycles ----------------------------------------------
    def _upsert_domain(self, req: models.UpsertDomainRequest) -> models.UpsertDomainResponse:
        validation.required(domain=req.domain)
        # The TTL is the caller's, in real seconds (not an interval of ours: not time-scaled).
        expires_at = time.time() + req.ttl if req.ttl else None
        state = self.core.state
        with state.lock:
            state.domains[req.domain] = expires_at
            tx = Tx(ops=[(UPSERT_DOMAIN, (req.domain, expires_at))])
            pending = self.core.commit(tx)
        pending.wait()
        self.core.logger.info("upsert-domain.complete", domain=req.domain, ttl=req.ttl)
        return models.UpsertDomainResponse()

    def _upsert_presence(self, presence: models.CellPresence) -> Response:
        if not presence.cell_id or not presence.rep_url:
            return Response(400, b"a cell presence needs cell_id and rep_url\n", "text/plain")
        expires_at = time.time() + self.core.timing.presence_ttl
        rec = Rec(presence)
        state = self.core.state
        with state.lock:
            known = presence.cell_id in state.present_cells()
            state.cells[presence.cell_id] = (rec, expires_at)
            tx = Tx(ops=[(UPSERT_PRESENCE, (presence.cell_id, expires_at, rec.blob))])
            pending = self.core.commit(tx)
        pending.wait()
        if not known:
            self.core.logger.info("cell-presence.registered", cell_id=presence.cell_id,
                                  rep_url=presence.rep_url)
        return Response(200, b"", PROTOBUF)

    # -- event streams ----------------------------------------------------------------------
    def _subscriber(self, stream: str) -> Callable[[models.EventsByCellId], Response]:
        def subscribe(req: models.EventsByCellId) -> Response:
            sub = self.core.hub.subscribe(stream, req.cell_id)
            self.core.logger.info("event-stream.subscribed", stream=stream, cell_id=req.cell_id)
            return Response(200, b"", SSE, stream=self._frames(sub))
        return subscribe

    def _frames(self, sub: Subscriber) -> Iterator[bytes]:
        try:
            while not self.stopping:
                items = sub.take(timeout=0.5)
                if items is None:
                    return
                # An empty chunk lets the server notice a reader that hung up while idle.
                yield b"".join(sub.frame(name, data) for name, data in items)
        finally:
            self.core.hub.unsubscribe(sub)


def _app_guid(lrp: models.DesiredLRP) -> str:
    """The app a DesiredLRP belongs to, from Cloud Controller's ``app_id`` metric tag."""
    tag = lrp.metric_tags.get("app_id") if "app_id" in lrp.metric_tags else None
    return tag.static if tag is not None else ""


def scheduling_info(d: models.DesiredLRP) -> models.DesiredLRPSchedulingInfo:
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

