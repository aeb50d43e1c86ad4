"""Messages a BBS must refuse with ``InvalidRequest``: valid ones broken in one field, and bytes
that no protobuf decoder reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from google.protobuf.message import Message
from hypothesis import strategies as st

from pytest_diego.bbs import models
from pytest_diego.bbs.wire import varint
from pytest_diego.strategies.valid import (
    Strategy,
    desire_task_requests,
    desired_lrp_updates,
    desired_lrps,
    guids,
)
from pytest_diego.strategies.wire import filled

M = TypeVar("M", bound=Message)
MAX_ANNOTATION = 10 * 1024  # bytes, Diego's maximumAnnotationLength
MAX_ROUTES = 128 * 1024  # bytes of routes JSON, Diego's maximumRouteLength


@dataclass(frozen=True)
class Invalid(Generic[M]):
    """A message a BBS must refuse with ``InvalidRequest``, and the field its error names."""

    message: M
    field: str


# -- invalid messages ----------------------------------------------------------------------------------
def _too_long_annotation() -> str:
    return "a" * (MAX_ANNOTATION + 1)


def _too_many_routes() -> models.ProtoRoutes:
    return models.ProtoRoutes(routes={"cf-router": b"[" + b'"x",' * (MAX_ROUTES // 4) + b'"x"]'})


def _bad_guid() -> Strategy[str]:
    return st.one_of(st.just(""), st.from_regex(r"[a-z0-9]{0,8}[ !./:@é][a-z0-9]{0,8}", fullmatch=True))


# The fields each invalid strategy breaks, as the BBS's error names them ("Invalid field: ...").
DESIRED_LRP_FIELDS = ("process_guid", "domain", "rootfs", "instances", "memory_mb", "disk_mb", "max_pids",
                      "action", "annotation", "routes", "metric_tags")
TASK_FIELDS = ("task_guid", "domain", "task_definition", "rootfs", "memory_mb", "disk_mb", "max_pids",
               "action", "annotation")
UPDATE_FIELDS = ("instances", "annotation", "routes")


def _field(fields: Sequence[str] | None, known: tuple[str, ...]) -> Strategy[str]:
    """Which field to break; a clear error, when the strategy is made, for one it cannot."""
    unknown = set(fields or ()) - set(known)
    if unknown:
        raise ValueError(f"cannot break {sorted(unknown)}: choose from {', '.join(known)}")
    return st.sampled_from(tuple(fields) if fields else known)


def invalid_desired_lrps(valid: Strategy[models.DesiredLRP] | None = None,
                         fields: Sequence[str] | None = None) -> Strategy[Invalid[models.DesiredLRP]]:
    """A valid DesiredLRP broken in one field (of ``fields``, default all of
    ``DESIRED_LRP_FIELDS``) that both Diego's BBS and the embedded one check: a guid outside
    ``^[a-zA-Z0-9_-]+$``, no domain, a rootfs without a scheme, negative instances or limits, no
    action, an annotation over 10 KiB, routes over 128 KiB, no metric tags, or a ``source_id``
    tag that differs from ``metrics_guid``."""
    return _invalid_desired_lrps(desired_lrps() if valid is None else valid,
                                 _field(fields, DESIRED_LRP_FIELDS))


@st.composite
def _invalid_desired_lrps(draw: st.DrawFn, valid: Strategy[models.DesiredLRP],
                          fields: Strategy[str]) -> Invalid[models.DesiredLRP]:
    lrp = draw(valid)
    field = draw(fields)
    _break(draw, lrp, field)
    if field == "metric_tags" and draw(st.booleans()):
        lrp.metrics_guid = draw(guids())
        lrp.metric_tags["source_id"].CopyFrom(models.MetricTagValue(static=lrp.metrics_guid + "-other"))
    elif field == "metric_tags":
        lrp.ClearField("metric_tags")
    return Invalid(lrp, field)


def _break(draw: st.DrawFn, message: models.DesiredLRP | models.TaskDefinition, field: str) -> None:
    if field == "process_guid":
        message.process_guid = draw(_bad_guid())  # type: ignore[union-attr]
    elif field == "domain":
        message.domain = ""  # type: ignore[union-attr]
    elif field == "rootfs":
        message.root_fs = draw(st.sampled_from(["", "cflinuxfs4", "no-scheme/at-all"]))
    elif field in ("instances", "memory_mb", "disk_mb", "max_pids"):
        setattr(message, field, draw(st.integers(-(2**31), -1)))
    elif field == "action":
        message.ClearField("action")
    elif field == "annotation":
        message.annotation = _too_long_annotation()
    elif field == "routes":
        message.routes.CopyFrom(_too_many_routes())  # type: ignore[union-attr]


def invalid_desire_task_requests(valid: Strategy[models.DesireTaskRequest] | None = None,
                                 fields: Sequence[str] | None = None,
                                 ) -> Strategy[Invalid[models.DesireTaskRequest]]:
    """A valid DesireTaskRequest broken in one way (of ``fields``, default ``TASK_FIELDS``) both
    BBSes check: a guid outside the pattern, no domain, no definition, or a definition with a
    rootfs without a scheme, negative limits, no action or an annotation over 10 KiB."""
    return _invalid_desire_task_requests(desire_task_requests() if valid is None else valid,
                                         _field(fields, TASK_FIELDS))


@st.composite
def _invalid_desire_task_requests(draw: st.DrawFn, valid: Strategy[models.DesireTaskRequest],
                                  fields: Strategy[str]) -> Invalid[models.DesireTaskRequest]:
    request = draw(valid)
    field = draw(fields)
    if field == "task_guid":
        request.task_guid = draw(_bad_guid())
    elif field == "domain":
        request.domain = ""
    elif field == "task_definition":
        request.ClearField("task_definition")
    else:
        _break(draw, request.task_definition, field)
    return Invalid(request, field)


def invalid_desired_lrp_updates(fields: Sequence[str] | None = None,
                                ) -> Strategy[Invalid[models.DesiredLRPUpdate]]:
    """A DesiredLRPUpdate both BBSes refuse (of ``fields``, default ``UPDATE_FIELDS``): negative
    instances, an annotation over 10 KiB, or routes over 128 KiB."""
    return _invalid_desired_lrp_updates(_field(fields, UPDATE_FIELDS))


@st.composite
def _invalid_desired_lrp_updates(draw: st.DrawFn, fields: Strategy[str]) -> Invalid[models.DesiredLRPUpdate]:
    update = draw(desired_lrp_updates())
    field = draw(fields)
    if field == "instances":
        update.instances = draw(st.integers(-(2**31), -1))
    elif field == "annotation":
        update.annotation = _too_long_annotation()
    else:
        update.routes.CopyFrom(_too_many_routes())
    return Invalid(update, field)


# -- malformed bytes -----------------------------------------------------------------------------------
@st.composite
def malformed_protobuf(draw: st.DrawFn, valid: Strategy[bytes] | None = None) -> bytes:
    """Bytes no protobuf decoder reads, whatever the message type: a prefix of whole, well-formed
    fields (drawn from ``valid``; default none), then one of a length-delimited field longer than
    what is left, field number 0, wire type 6 or 7, or a varint of 11 bytes."""
    prefix = draw(valid) if valid is not None else b""
    field = draw(st.integers(1, 2**29 - 1))
    kind = draw(st.sampled_from(["truncated", "field zero", "wire type", "long varint"]))
    if kind == "truncated":
        tail = draw(st.binary(max_size=16))
        broken = varint(field << 3 | 2) + varint(len(tail) + draw(st.integers(1, 2**20))) + tail
    elif kind == "field zero":
        broken = bytes([draw(st.sampled_from([0, 1, 2, 5]))]) + draw(st.binary(max_size=8))
    elif kind == "wire type":
        broken = varint(field << 3 | draw(st.sampled_from([6, 7]))) + draw(st.binary(max_size=8))
    else:
        broken = varint(field << 3 | 0) + b"\xff" * 10 + b"\x01"
    return prefix + broken


# Diego's routes that take a request message, with their request and response messages
# (docs/diego-facts.md §11.3); the event streams are left out (they answer SSE).
REQUESTS: Mapping[str, tuple[type[Message], type[Message]]] = MappingProxyType({
    "UpsertDomain": (models.UpsertDomainRequest, models.UpsertDomainResponse),
    "ActualLRPs": (models.ActualLRPsRequest, models.ActualLRPsResponse),
    "ActualLRPsByProcessGuids": (models.ActualLRPsByProcessGuidsRequest,
                                 models.ActualLRPsByProcessGuidsResponse),
    "ClaimActualLRP": (models.ClaimActualLRPRequest, models.ActualLRPLifecycleResponse),
    "StartActualLRP": (models.StartActualLRPRequest, models.ActualLRPLifecycleResponse),
    "CrashActualLRP": (models.CrashActualLRPRequest, models.ActualLRPLifecycleResponse),
    "FailActualLRP": (models.FailActualLRPRequest, models.ActualLRPLifecycleResponse),
    "RemoveActualLRP": (models.RemoveActualLRPRequest, models.ActualLRPLifecycleResponse),
    "RetireActualLRP": (models.RetireActualLRPRequest, models.ActualLRPLifecycleResponse),
    "RemoveEvacuatingActualLRP": (models.RemoveEvacuatingActualLRPRequest,
                                  models.RemoveEvacuatingActualLRPResponse),
    "EvacuateClaimedActualLRP": (models.EvacuateClaimedActualLRPRequest, models.EvacuationResponse),
    "EvacuateCrashedActualLRP": (models.EvacuateCrashedActualLRPRequest, models.EvacuationResponse),
    "EvacuateStoppedActualLRP": (models.EvacuateStoppedActualLRPRequest, models.EvacuationResponse),
    "EvacuateRunningActualLRP": (models.EvacuateRunningActualLRPRequest, models.EvacuationResponse),
    "DesiredLRPSchedulingInfos": (models.DesiredLRPsRequest, models.DesiredLRPSchedulingInfosResponse),
    "DesiredLRPSchedulingInfoByProcessGuid": (models.DesiredLRPByProcessGuidRequest,
                                              models.DesiredLRPSchedulingInfoByProcessGuidResponse),
    "DesiredLRPRoutingInfos": (models.DesiredLRPsRequest, models.DesiredLRPsResponse),
    "DesiredLRPs": (models.DesiredLRPsRequest, models.DesiredLRPsResponse),
    "DesiredLRPByProcessGuid": (models.DesiredLRPByProcessGuidRequest, models.DesiredLRPResponse),
    "DesireDesiredLRP": (models.DesireLRPRequest, models.DesiredLRPLifecycleResponse),
    "UpdateDesireLRP": (models.UpdateDesiredLRPRequest, models.DesiredLRPLifecycleResponse),
    "RemoveDesiredLRP": (models.RemoveDesiredLRPRequest, models.DesiredLRPLifecycleResponse),
    "Tasks": (models.TasksRequest, models.TasksResponse),
    "TaskByGuid": (models.TaskByGuidRequest, models.TaskResponse),
    "DesireTask": (models.DesireTaskRequest, models.TaskLifecycleResponse),
    "StartTask": (models.StartTaskRequest, models.StartTaskResponse),
    "CancelTask": (models.TaskGuidRequest, models.TaskLifecycleResponse),
    "FailTask": (models.FailTaskRequest, models.TaskLifecycleResponse),
    "RejectTask": (models.RejectTaskRequest, models.TaskLifecycleResponse),
    "CompleteTask": (models.CompleteTaskRequest, models.TaskLifecycleResponse),
    "ResolvingTask": (models.TaskGuidRequest, models.TaskLifecycleResponse),
    "DeleteTask": (models.TaskGuidRequest, models.TaskLifecycleResponse),
})


@st.composite
def malformed_requests(draw: st.DrawFn, routes: tuple[str, ...] | None = None) -> tuple[str, bytes]:
    """(route name, body): malformed bytes for one of ``routes`` (default all of ``REQUESTS``),
    Diego's routes that take a request; the prefix is a cut of the route's request with every
    field set, when the cut falls between fields (else none), so the decoder gets some way in."""
    route = draw(st.sampled_from(routes or tuple(REQUESTS)))
    request, _ = REQUESTS[route]
    whole = filled(request).SerializeToString()
    prefix = whole[:draw(st.integers(0, len(whole)))]
    valid_prefix = st.just(prefix if _parses(request, prefix) else b"")
    return route, draw(malformed_protobuf(valid_prefix))


def _parses(message_type: type[Message], data: bytes) -> bool:
    try:
        message_type.FromString(data)
    except Exception:
        return False
    return True
