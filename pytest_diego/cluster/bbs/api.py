"""The BBS handlers: decode the protobuf request, dispatch to the operation, encode the response.

As in Diego's BBS (``handlers/`` over ``controllers/`` over ``db/``), this module holds no filter
and no write: reads are ``queries`` over the state, writes are the controllers (``lrps``, ``tasks``,
``evacuation``, ``freshness``); a handler only unpacks the request's fields and wraps the result.

Every route is a POST answered with HTTP 200 and the error in band; unknown paths get 404 and
other methods 405, like Diego's BBS. While the store is unavailable every route but Ping and the
event streams answers Diego's ``UnknownError``, and no answer rests on a change the store did not
commit (``db.Writer.settle``). Each request is logged as lager ``request.serving`` /
``request.done`` (the pair perfchug reads) and counted in RequestCount/RequestLatency.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from pytest_diego.bbs import models
from pytest_diego.bbs.routes import DEPRECATED_ROUTES, ROUTES
from pytest_diego.cluster.bbs import evacuation, freshness, lrps, queries, tasks, wire
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.db import StoreError
from pytest_diego.cluster.bbs.errors import ModelError, bad_request
from pytest_diego.cluster.bbs.events import Subscriber
from pytest_diego.cluster.bbs.httpserver import Request, Response
from pytest_diego.cluster.bbs.metrics import Metrics
from pytest_diego.cluster.bbs.state import Rec
from pytest_diego.locket.errors import LocketClientError

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
            if route.stream or route.name == "Ping":  # neither touches Diego's SQL store
                return self._encode(route, route.handler(message))
            result = self._answer(route, message)
        except ModelError as e:
            result = self._error(route, e.type, e.message)
        except StoreError as e:
            self.core.logger.error("request.store-failed", e)
            result = self._error(route, "UnknownError", str(e))
        return self._encode(route, result)

    def _answer(self, route: Route, message: Any) -> Any:
        """The handler's result (or its in-band error), once every change it may have seen is
        committed; StoreError if the store is down or one of those changes failed."""
        writer = self.core.state.writer
        assert writer is not None
        generation = writer.available()
        lock = self.core.state.lock
        lock.forget()
        try:
            result = route.handler(message)
        except ModelError as e:
            result = self._error(route, e.type, e.message)
        writer.settle(lock.seen(), generation)
        return result

    def _encode(self, route: Route, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        if result is None:  # an operation with nothing to say: the route's empty response
            result = b"" if route.response is None else route.response()
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
        """Route name -> request type, response type, and the handler: decoded request in,
        response message, pre-encoded list bytes or None (the route's empty response) out."""
        c, s, m = self.core, self.core.state, models
        paths = {**ROUTES, **DEPRECATED_ROUTES}

        def add(names: str | tuple[str, ...], req: type | None, resp: type | None,
                fn: Callable[[Any], Any], stream: bool = False) -> None:
            for name in (names,) if isinstance(names, str) else names:
                self.routes[paths[name]] = Route(name, req, resp, fn, stream)

        def on_core(fn: Callable[[Core, Any], Any]) -> Callable[[Any], Any]:
            return functools.partial(fn, c)

        def evacuate(fn: Callable[[Core, Any], bool]) -> Callable[[Any], Any]:
            return lambda req: m.EvacuationResponse(keep_container=fn(c, req))

        def listed(blobs: list[bytes]) -> bytes:
            return wire.repeated(2, blobs)

        add("Ping", None, None, lambda _: m.PingResponse(available=True))
        add("Domains", None, m.DomainsResponse,
            lambda _: m.DomainsResponse(domains=queries.fresh_domains(s)))
        add("UpsertDomain", m.UpsertDomainRequest, m.UpsertDomainResponse,
            lambda req: freshness.upsert_domain(c, req.domain, req.ttl))
        add("Cells", None, m.CellsResponse, lambda _: listed(self._cell_blobs()))

        add("ActualLRPs", m.ActualLRPsRequest, m.ActualLRPsResponse, lambda req: listed(
            queries.actual_lrp_blobs(s, req.domain, req.cell_id, req.process_guid,
                                     req.index if req.HasField("index") else None)))
        add("ActualLRPsByProcessGuids", m.ActualLRPsByProcessGuidsRequest,
            m.ActualLRPsByProcessGuidsResponse,
            lambda req: listed(queries.actual_lrp_blobs_of(s, list(req.process_guids))))
        add("ActualLRPGroups", m.ActualLRPGroupsRequest, m.ActualLRPGroupsResponse,
            lambda req: m.ActualLRPGroupsResponse(actual_lrp_groups=list(
                queries.actual_lrp_groups(s, None, req.domain, req.cell_id).values())))
        add("ActualLRPGroupsByProcessGuid", m.ActualLRPGroupsByProcessGuidRequest,
            m.ActualLRPGroupsResponse,
            lambda req: m.ActualLRPGroupsResponse(actual_lrp_groups=list(
                queries.actual_lrp_groups(s, [req.process_guid]).values())))
        add("ActualLRPGroupsByProcessGuidAndIndex", m.ActualLRPGroupByProcessGuidAndIndexRequest,
            m.ActualLRPGroupResponse, lambda req: m.ActualLRPGroupResponse(
                actual_lrp_group=queries.actual_lrp_group(s, req.process_guid, req.index)))
        add("ClaimActualLRP", m.ClaimActualLRPRequest, m.ActualLRPLifecycleResponse, on_core(lrps.claim))
        add(("StartActualLRP", "StartActualLRP_r0"), m.StartActualLRPRequest,
            m.ActualLRPLifecycleResponse, on_core(lrps.start))
        add("CrashActualLRP", m.CrashActualLRPRequest, m.ActualLRPLifecycleResponse, on_core(lrps.crash))
        add("FailActualLRP", m.FailActualLRPRequest, m.ActualLRPLifecycleResponse, on_core(lrps.fail))
        add("RemoveActualLRP", m.RemoveActualLRPRequest, m.ActualLRPLifecycleResponse,
            on_core(lrps.remove_actual))
        add("RetireActualLRP", m.RetireActualLRPRequest, m.ActualLRPLifecycleResponse,
            on_core(lrps.retire))
        add("RemoveEvacuatingActualLRP", m.RemoveEvacuatingActualLRPRequest,
            m.RemoveEvacuatingActualLRPResponse, on_core(evacuation.remove_evacuating))
        add("EvacuateClaimedActualLRP", m.EvacuateClaimedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_claimed))
        add("EvacuateCrashedActualLRP", m.EvacuateCrashedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_crashed))
        add("EvacuateStoppedActualLRP", m.EvacuateStoppedActualLRPRequest, m.EvacuationResponse,
            evacuate(evacuation.evacuate_stopped))
        add(("EvacuateRunningActualLRP", "EvacuateRunningActualLRP_r0"), m.EvacuateRunningActualLRPRequest,
            m.EvacuationResponse, evacuate(evacuation.evacuate_running))

        def desired(req: models.DesiredLRPsRequest) -> list[Rec]:
            return queries.desired_lrps(s, req.domain, list(req.process_guids), list(req.app_guids))

        add("DesiredLRPSchedulingInfos", m.DesiredLRPsRequest, m.DesiredLRPSchedulingInfosResponse,
            lambda req: m.DesiredLRPSchedulingInfosResponse(desired_lrp_scheduling_infos=[
                queries.scheduling_info(rec.msg) for rec in desired(req)]))
        add("DesiredLRPSchedulingInfoByProcessGuid", m.DesiredLRPByProcessGuidRequest,
            m.DesiredLRPSchedulingInfoByProcessGuidResponse,
            lambda req: m.DesiredLRPSchedulingInfoByProcessGuidResponse(desired_lrp_scheduling_info=(
                queries.scheduling_info(queries.desired_lrp(s, req.process_guid).msg))))
        add("DesiredLRPRoutingInfos", m.DesiredLRPsRequest, m.DesiredLRPsResponse,
            lambda req: m.DesiredLRPsResponse(desired_lrps=[
                queries.routing_info(rec.msg) for rec in desired(req)]))
        add(("DesiredLRPs", "DesiredLRPs_r2"), m.DesiredLRPsRequest, m.DesiredLRPsResponse,
            lambda req: listed([rec.blob for rec in desired(req)]))
        add(("DesiredLRPByProcessGuid", "DesiredLRPByProcessGuid_r2"), m.DesiredLRPByProcessGuidRequest,
            m.DesiredLRPResponse, lambda req: listed([queries.desired_lrp(s, req.process_guid).blob]))
        add("DesireDesiredLRP", m.DesireLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: lrps.desire(c, req.desired_lrp))
        add("UpdateDesireLRP", m.UpdateDesiredLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: lrps.update(c, req.process_guid, req.update))
        add("RemoveDesiredLRP", m.RemoveDesiredLRPRequest, m.DesiredLRPLifecycleResponse,
            lambda req: lrps.remove(c, req.process_guid))

        add(("Tasks", "Tasks_r2"), m.TasksRequest, m.TasksResponse,
            lambda req: listed(queries.task_blobs(s, req.domain, req.cell_id)))
        add(("TaskByGuid", "TaskByGuid_r2"), m.TaskByGuidRequest, m.TaskResponse,
            lambda req: listed([queries.task(s, req.task_guid).blob]))
        add("DesireTask", m.DesireTaskRequest, m.TaskLifecycleResponse, on_core(tasks.desire))
        add("StartTask", m.StartTaskRequest, m.StartTaskResponse,
            lambda req: m.StartTaskResponse(should_start=tasks.start(c, req.task_guid, req.cell_id)))
        add("CancelTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: tasks.cancel(c, req.task_guid))
        add("FailTask", m.FailTaskRequest, m.TaskLifecycleResponse,
            lambda req: tasks.fail(c, req.task_guid, req.failure_reason))
        add("RejectTask", m.RejectTaskRequest, m.TaskLifecycleResponse,
            lambda req: tasks.reject(c, req.task_guid, req.rejection_reason))
        add("CompleteTask", m.CompleteTaskRequest, m.TaskLifecycleResponse, on_core(tasks.complete))
        add("ResolvingTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: tasks.resolving(c, req.task_guid))
        add("DeleteTask", m.TaskGuidRequest, m.TaskLifecycleResponse,
            lambda req: tasks.delete(c, req.task_guid))

        add(("LRPInstanceEventStream", "LrpInstanceEventStream_r0"), m.EventsByCellId, None,
            self._subscriber("lrp"), stream=True)
        add(("TaskEventStream", "TaskEventStream_r0"), m.EventsByCellId, None,
            self._subscriber("task"), stream=True)

    def _cell_blobs(self) -> list[bytes]:
        """Locket's presences; Locket out of reach is an error in band (Diego's ConvertError)."""
        try:
            return [presence.blob for presence in self.core.cells.cells().values()]
        except LocketClientError as e:
            self.core.logger.error("cells.failed-to-fetch-cells-from-locket", e)
            raise ModelError("UnknownError", str(e)) from e

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
