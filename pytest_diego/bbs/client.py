"""``BBSClient``: Diego's BBS API over HTTP(S) with protobuf bodies, one method per route.

Speaks to a real Diego BBS (mutual TLS) and to the embedded cluster's BBS alike. Built for load
drivers: every call goes over a lean keep-alive socket pool with a C response parser
(``transport``), plain or TLS, with each route's request bytes built once; requests/urllib3 cost
most of a load driver's CPU. Event streams, long-lived and few, go through requests.
Settings are checked in ``settings``; failures are classified in ``failures``.
"""

from __future__ import annotations

import http.client
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, cast, overload
from urllib.parse import SplitResult, urlsplit

import requests
import urllib3
from google.protobuf.message import DecodeError, Message
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from pytest_diego import __version__
from pytest_diego.bbs import models
from pytest_diego.bbs.errors import (
    BBSClientError,
    BBSConfigError,
    BBSConnectionError,
    BBSError,
    BBSProtocolError,
    BBSTimeoutError,
)
from pytest_diego.bbs.events import EventStream
from pytest_diego.bbs.failures import http_error, transport_error
from pytest_diego.bbs.routes import ROUTES
from pytest_diego.bbs.settings import check_tls, check_url, labels_for
from pytest_diego.bbs.transport import ConnectionPool

Observer = Callable[[str, float, float, str], Any]
M = TypeVar("M", bound=Message)
_InternalRoutes = Iterable[models.ActualLRPInternalRoute] | None

PROTOBUF = "application/x-protobuf"
POOL_SIZE = 64
_EMPTY = b""
_ERROR_NAMES = {value.number: value.name for value in models.Error.Type.DESCRIPTOR.values}
_HAS_ERROR: dict[type[Message], bool] = {}


class BBSClient:
    """Client of Diego's BBS API; thread-safe, with up to ``POOL_SIZE`` pooled keep-alive connections.

    ``observer(route, started_at, duration, outcome)`` is called after every attempt (retries
    included) with Diego's route name, ``time.time()`` at the start, the duration in seconds and
    ``"ok"``, an ``Error.Type`` name or a transport failure class. ``retries`` retries connection
    failures and timeouts only, ``retry_interval`` seconds apart (Diego's client: 0.5 s). The
    pool's re-send of a request a stale pooled connection never delivered is part of the same
    attempt, not a retry: the BBS saw the request once.

    ``setting_labels`` names where ``url``, ``ca_file``, ``cert_file`` and ``key_file`` came from,
    for error messages (default: those parameter names); a tool with its own options passes
    them, e.g. ``{"cert_file": "--diego-cert (CLIENT_CERT_FILE)"}``.
    """

    retry_interval = 0.5

    def __init__(
        self,
        url: str,
        *,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        observer: Observer | None = None,
        retries: int = 0,
        skip_cert_verify: bool = False,
        setting_labels: Mapping[str, str] | None = None,
    ) -> None:
        self._labels = labels_for(setting_labels)
        self.url = check_url(url, self._labels)
        self.timeout = timeout
        self.retries = retries
        self._observer = observer
        self._tls = check_tls(self.url, ca_file, cert_file, key_file, skip_cert_verify, self._labels)
        self._urls = {name: self.url + path for name, path in ROUTES.items()}
        self._user_agent = f"pytest-diego/{__version__}"
        parts = urlsplit(self.url)
        default_port = 443 if parts.scheme == "https" else 80
        self._pool = ConnectionPool(parts.hostname or "127.0.0.1", parts.port or default_port, timeout,
                                    POOL_SIZE, self._tls.context)
        self._heads = {name: _request_head(_host_header(parts), urlsplit(url).path, self._user_agent)
                       for name, url in self._urls.items()}
        self._streams: HTTPAdapter | None = None  # requests, for event streams only

    def __repr__(self) -> str:
        return f"BBSClient({self.url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()
        if self._streams is not None:
            self._streams.close()

    def __enter__(self) -> BBSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transport

    def _exchange(self, route: str, body: bytes) -> tuple[int, _Headers, bytes]:
        """Status, headers and body of one POST: prebuilt request bytes over the socket pool;
        transport failures as ``BBSClientError``."""
        request = b"%sContent-Length: %d\r\nX-Vcap-Request-Id: %s\r\n\r\n%s" % (
            self._heads[route], len(body), str(uuid.uuid4()).encode(), body)
        try:
            return self._pool.post(request)
        except (OSError, http.client.HTTPException) as exc:
            raise transport_error(self.url, route, self.timeout, exc, self._labels) from exc

    @overload
    def _call(self, route: str, body: bytes, response_cls: type[M]) -> M: ...
    @overload
    def _call(self, route: str, body: bytes, response_cls: None) -> None: ...

    def _call(self, route: str, body: bytes, response_cls: type[M] | None) -> M | None:
        """One route call: send, decode, report every attempt to the observer, retry transport failures."""
        attempt = 0
        while True:
            started_at = time.time()
            start = time.perf_counter()
            try:
                status, headers, content = self._exchange(route, body)
                message = self._decode(route, status, headers, content, response_cls)
            except BBSClientError as error:
                if self._observer is not None:
                    self._observer(route, started_at, time.perf_counter() - start, error.outcome)
                if attempt < self.retries and isinstance(error, (BBSConnectionError, BBSTimeoutError)):
                    attempt += 1
                    time.sleep(self.retry_interval)
                    continue
                raise
            if self._observer is not None:
                self._observer(route, started_at, time.perf_counter() - start, "ok")
            return message

    def _decode(
        self,
        route: str,
        status: int,
        headers: _Headers,
        content: bytes,
        response_cls: type[M] | None,
    ) -> M | None:
        router_error = headers.get("X-Cf-Routererror")
        if router_error is not None:
            raise BBSError(
                "RouterError", f"{router_error} (from a router in front of {self.url})", url=self.url
            )
        if status != 200:
            raise http_error(self.url, route, self._urls[route][len(self.url):], status, content)
        if response_cls is None:
            return None
        try:
            message = response_cls.FromString(content)
        except DecodeError as exc:
            raise BBSProtocolError(
                f"the BBS at {self.url} answered {route} ({ROUTES.get(route, '')}) with {len(content)} bytes "
                f"that are not a {response_cls.__name__}: {exc} — is {self.url} a Diego BBS?",
                url=self.url,
            ) from exc
        has_error = _HAS_ERROR.get(response_cls)
        if has_error is None:
            has_error = _HAS_ERROR[response_cls] = "error" in response_cls.DESCRIPTOR.fields_by_name
        if has_error and message.HasField("error"):
            error = cast(_WithError, message).error
            raise BBSError(_ERROR_NAMES.get(error.type, str(error.type)), error.message, url=self.url)
        return message

    # ---------------------------------------------------------------- ping, domains, cells

    def ping(self) -> bool:
        """The BBS's ``available`` flag; a BBS that cannot be reached raises (saying why)."""
        return self._call("Ping", _EMPTY, models.PingResponse).available

    def domains(self) -> list[str]:
        """The fresh domains."""
        return list(self._call("Domains", _EMPTY, models.DomainsResponse).domains)

    def upsert_domain(self, domain: str, ttl: int) -> None:
        """Mark ``domain`` fresh for ``ttl`` seconds (0: forever)."""
        body = models.UpsertDomainRequest(domain=domain, ttl=int(ttl)).SerializeToString()
        self._call("UpsertDomain", body, models.UpsertDomainResponse)

    def cells(self) -> list[models.CellPresence]:
        """The present cells."""
        return list(self._call("Cells", _EMPTY, models.CellsResponse).cells)

    # ---------------------------------------------------------------- any route, any body

    def post(self, route: str, body: bytes, response: type[M]) -> M:
        """Send ``body`` as it is to the route named ``route`` and decode the answer as ``response``:
        for bodies the typed methods cannot build, such as malformed bytes when fuzzing a BBS.
        Answers are checked, recorded and raised like every other call's."""
        if route not in self._urls:
            raise BBSConfigError(f"no BBS route named {route!r}: use a name from "
                                 "pytest_diego.bbs.routes.ROUTES, e.g. 'DesireTask'", url=self.url)
        return self._call(route, body, response)

    # ---------------------------------------------------------------- desired LRPs

    def desire_lrp(self, desired_lrp: models.DesiredLRP) -> None:
        body = models.DesireLRPRequest(desired_lrp=desired_lrp).SerializeToString()
        self._call("DesireDesiredLRP", body, models.DesiredLRPLifecycleResponse)

    def update_desired_lrp(self, process_guid: str, update: models.DesiredLRPUpdate) -> None:
        body = models.UpdateDesiredLRPRequest(process_guid=process_guid, update=update).SerializeToString()
        self._call("UpdateDesireLRP", body, models.DesiredLRPLifecycleResponse)

    def remove_desired_lrp(self, process_guid: str) -> None:
        body = models.RemoveDesiredLRPRequest(process_guid=process_guid).SerializeToString()
        self._call("RemoveDesiredLRP", body, models.DesiredLRPLifecycleResponse)

    def desired_lrps(
        self, domain: str | None = None, process_guids: Iterable[str] | None = None
    ) -> list[models.DesiredLRP]:
        body = _desired_lrps_filter(domain, process_guids)
        return list(self._call("DesiredLRPs", body, models.DesiredLRPsResponse).desired_lrps)

    def desired_lrp_by_process_guid(self, process_guid: str) -> models.DesiredLRP:
        body = models.DesiredLRPByProcessGuidRequest(process_guid=process_guid).SerializeToString()
        return self._call("DesiredLRPByProcessGuid", body, models.DesiredLRPResponse).desired_lrp

    def desired_lrp_scheduling_infos(
        self, domain: str | None = None, process_guids: Iterable[str] | None = None
    ) -> list[models.DesiredLRPSchedulingInfo]:
        body = _desired_lrps_filter(domain, process_guids)
        response = self._call("DesiredLRPSchedulingInfos", body, models.DesiredLRPSchedulingInfosResponse)
        return list(response.desired_lrp_scheduling_infos)

    def desired_lrp_scheduling_info_by_process_guid(
        self, process_guid: str
    ) -> models.DesiredLRPSchedulingInfo:
        body = models.DesiredLRPByProcessGuidRequest(process_guid=process_guid).SerializeToString()
        response = self._call(
            "DesiredLRPSchedulingInfoByProcessGuid",
            body,
            models.DesiredLRPSchedulingInfoByProcessGuidResponse,
        )
        return response.desired_lrp_scheduling_info

    def desired_lrp_routing_infos(
        self, process_guids: Iterable[str] | None = None
    ) -> list[models.DesiredLRP]:
        """DesiredLRPs carrying only what the route emitter needs (key, routes, metric tags...)."""
        body = _desired_lrps_filter(None, process_guids)
        return list(self._call("DesiredLRPRoutingInfos", body, models.DesiredLRPsResponse).desired_lrps)

    # ---------------------------------------------------------------- actual LRPs

    def actual_lrps(
        self,
        domain: str | None = None,
        cell_id: str | None = None,
        process_guid: str | None = None,
        index: int | None = None,
    ) -> list[models.ActualLRP]:
        """ActualLRPs matching every given filter (all of them when none is given)."""
        request = models.ActualLRPsRequest(
            domain=domain or "", cell_id=cell_id or "", process_guid=process_guid or ""
        )
        if index is not None:
            request.index = index
        body = request.SerializeToString()
        return list(self._call("ActualLRPs", body, models.ActualLRPsResponse).actual_lrps)

    def actual_lrps_by_process_guids(self, process_guids: Iterable[str]) -> list[models.ActualLRP]:
        body = models.ActualLRPsByProcessGuidsRequest(process_guids=list(process_guids)).SerializeToString()
        return list(
            self._call("ActualLRPsByProcessGuids", body, models.ActualLRPsByProcessGuidsResponse).actual_lrps
        )

    def retire_actual_lrp(self, key: models.ActualLRPKey) -> None:
        body = models.RetireActualLRPRequest(actual_lrp_key=key).SerializeToString()
        self._call("RetireActualLRP", body, models.ActualLRPLifecycleResponse)

    # ---------------------------------------------------------------- actual LRPs, cell side

    def claim_actual_lrp(
        self, process_guid: str, index: int, instance_key: models.ActualLRPInstanceKey
    ) -> None:
        body = models.ClaimActualLRPRequest(
            process_guid=process_guid, index=index, actual_lrp_instance_key=instance_key
        ).SerializeToString()
        self._call("ClaimActualLRP", body, models.ActualLRPLifecycleResponse)

    def start_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo, internal_routes: _InternalRoutes = None,
        metric_tags: Mapping[str, str] | None = None, routable: bool = True, availability_zone: str = "",
    ) -> None:
        body = _running(models.StartActualLRPRequest, key, instance_key, net_info, internal_routes,
                        metric_tags, routable, availability_zone)
        self._call("StartActualLRP", body, models.ActualLRPLifecycleResponse)

    def crash_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey, error_message: str
    ) -> None:
        body = models.CrashActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        ).SerializeToString()
        self._call("CrashActualLRP", body, models.ActualLRPLifecycleResponse)

    def fail_actual_lrp(self, key: models.ActualLRPKey, error_message: str) -> None:
        body = models.FailActualLRPRequest(
            actual_lrp_key=key, error_message=error_message
        ).SerializeToString()
        self._call("FailActualLRP", body, models.ActualLRPLifecycleResponse)

    def remove_actual_lrp(
        self, process_guid: str, index: int, instance_key: models.ActualLRPInstanceKey
    ) -> None:
        body = models.RemoveActualLRPRequest(
            process_guid=process_guid, index=index, actual_lrp_instance_key=instance_key
        ).SerializeToString()
        self._call("RemoveActualLRP", body, models.ActualLRPLifecycleResponse)

    def evacuate_claimed_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        """Returns ``keep_container``."""
        request = models.EvacuateClaimedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateClaimedActualLRP", request)

    def evacuate_running_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo, internal_routes: _InternalRoutes = None,
        metric_tags: Mapping[str, str] | None = None, routable: bool = True, availability_zone: str = "",
    ) -> bool:
        """Returns ``keep_container``."""
        body = _running(models.EvacuateRunningActualLRPRequest, key, instance_key, net_info, internal_routes,
                        metric_tags, routable, availability_zone)
        return self._call("EvacuateRunningActualLRP", body, models.EvacuationResponse).keep_container

    def evacuate_stopped_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        """Returns ``keep_container``."""
        request = models.EvacuateStoppedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateStoppedActualLRP", request)

    def evacuate_crashed_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey, error_message: str
    ) -> bool:
        """Returns ``keep_container``."""
        request = models.EvacuateCrashedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        )
        return self._evacuate("EvacuateCrashedActualLRP", request)

    def _evacuate(self, route: str, request: Message) -> bool:
        """Every evacuation route answers an EvacuationResponse whose ``keep_container`` is the news."""
        return self._call(route, request.SerializeToString(), models.EvacuationResponse).keep_container

    def remove_evacuating_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> None:
        body = models.RemoveEvacuatingActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        ).SerializeToString()
        self._call("RemoveEvacuatingActualLRP", body, models.RemoveEvacuatingActualLRPResponse)

    # ---------------------------------------------------------------- tasks

    def desire_task(self, task_guid: str, domain: str, task_definition: models.TaskDefinition) -> None:
        body = models.DesireTaskRequest(
            task_guid=task_guid, domain=domain, task_definition=task_definition
        ).SerializeToString()
        self._call("DesireTask", body, models.TaskLifecycleResponse)

    def tasks(self, domain: str | None = None, cell_id: str | None = None) -> list[models.Task]:
        body = models.TasksRequest(domain=domain or "", cell_id=cell_id or "").SerializeToString()
        return list(self._call("Tasks", body, models.TasksResponse).tasks)

    def task_by_guid(self, task_guid: str) -> models.Task:
        body = models.TaskByGuidRequest(task_guid=task_guid).SerializeToString()
        return self._call("TaskByGuid", body, models.TaskResponse).task

    def cancel_task(self, task_guid: str) -> None:
        self._call("CancelTask", _task_guid(task_guid), models.TaskLifecycleResponse)

    def resolving_task(self, task_guid: str) -> None:
        self._call("ResolvingTask", _task_guid(task_guid), models.TaskLifecycleResponse)

    def delete_task(self, task_guid: str) -> None:
        self._call("DeleteTask", _task_guid(task_guid), models.TaskLifecycleResponse)

    # ---------------------------------------------------------------- tasks, cell side

    def start_task(self, task_guid: str, cell_id: str) -> bool:
        """Move the task to Running on ``cell_id``; returns ``should_start``."""
        body = models.StartTaskRequest(task_guid=task_guid, cell_id=cell_id).SerializeToString()
        return self._call("StartTask", body, models.StartTaskResponse).should_start

    def complete_task(
        self, task_guid: str, cell_id: str, failed: bool, failure_reason: str = "", result: str = ""
    ) -> None:
        body = models.CompleteTaskRequest(
            task_guid=task_guid, cell_id=cell_id, failed=failed, failure_reason=failure_reason, result=result
        ).SerializeToString()
        self._call("CompleteTask", body, models.TaskLifecycleResponse)

    def reject_task(self, task_guid: str, rejection_reason: str) -> None:
        body = models.RejectTaskRequest(
            task_guid=task_guid, rejection_reason=rejection_reason
        ).SerializeToString()
        self._call("RejectTask", body, models.TaskLifecycleResponse)

    def fail_task(self, task_guid: str, failure_reason: str) -> None:
        """Deprecated in Diego (use ``cancel_task``/``complete_task``); kept for older callers."""
        body = models.FailTaskRequest(task_guid=task_guid, failure_reason=failure_reason).SerializeToString()
        self._call("FailTask", body, models.TaskLifecycleResponse)

    # ---------------------------------------------------------------- event streams

    def lrp_instance_events(self, cell_id: str = "", *, reconnect: bool = False) -> EventStream:
        """DesiredLRP and ActualLRP-instance events (of ``cell_id`` only, if given)."""
        return self._subscribe("LRPInstanceEventStream", cell_id, reconnect)

    def task_events(self, cell_id: str = "", *, reconnect: bool = False) -> EventStream:
        """Task events (of ``cell_id`` only, if given)."""
        return self._subscribe("TaskEventStream", cell_id, reconnect)

    def _subscribe(self, route: str, cell_id: str, reconnect: bool) -> EventStream:
        body = models.EventsByCellId(cell_id=cell_id).SerializeToString()

        def connect() -> requests.Response:
            started_at = time.time()
            start = time.perf_counter()
            try:
                response = self._open_stream(route, body)
            except BBSClientError as error:
                if self._observer is not None:
                    self._observer(route, started_at, time.perf_counter() - start, error.outcome)
                raise
            if self._observer is not None:
                self._observer(route, started_at, time.perf_counter() - start, "ok")
            return response

        return EventStream(connect, source=self._urls[route], reconnect=reconnect)

    def _open_stream(self, route: str, body: bytes) -> requests.Response:
        """A streamed POST through requests (long-lived, few: its cost per call does not matter)."""
        if self._streams is None:
            self._streams = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
            if self._tls.verify is False:  # skip_cert_verify was asked for: no warning per stream
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = self._urls[route]
        prepared.body = body
        prepared.headers = CaseInsensitiveDict({
            "Content-Type": PROTOBUF, "Content-Length": str(len(body)),
            "X-Vcap-Request-Id": str(uuid.uuid4()), "User-Agent": self._user_agent,
        })
        try:
            # the adapter, not a Session: no environment (REQUESTS_CA_BUNDLE, proxies) replaces our settings
            response = self._streams.send(prepared, stream=True, timeout=(self.timeout, None),
                                          verify=self._tls.verify, cert=self._tls.cert)
        except requests.RequestException as exc:
            raise transport_error(self.url, route, self.timeout, exc, self._labels) from exc
        if response.status_code != 200 or "X-Cf-Routererror" in response.headers:
            try:
                content = response.raw.read(200)
            except Exception:  # the status says enough
                content = b""
            response.close()
            self._decode(route, response.status_code, response.headers, content, None)
        return response


# -------------------------------------------------------------------- helpers


class _Headers(Protocol):
    """Response headers with case-insensitive ``get`` (requests' and the socket pool's both qualify)."""

    def get(self, name: str, /) -> str | None: ...


class _WithError(Protocol):
    """A response with Diego's ``error`` field (those whose descriptor has it: ``_HAS_ERROR``)."""

    error: models.Error


def _host_header(parts: SplitResult) -> str:
    """``host[:port]`` without any user:password@ of the URL (IPv6 literals in brackets)."""
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}" if parts.port else host


def _request_head(host: str, path: str, user_agent: str) -> bytes:
    """A route's request line and fixed headers, built once per client."""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {PROTOBUF}\r\n"
            f"User-Agent: {user_agent}\r\n").encode("latin-1")


def _desired_lrps_filter(domain: str | None, process_guids: Iterable[str] | None) -> bytes:
    if not domain and not process_guids:
        return _EMPTY
    return models.DesiredLRPsRequest(
        domain=domain or "", process_guids=list(process_guids or ())
    ).SerializeToString()


def _running(
    request: type[models.StartActualLRPRequest] | type[models.EvacuateRunningActualLRPRequest],
    key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey, net_info: models.ActualLRPNetInfo,
    internal_routes: _InternalRoutes, metric_tags: Mapping[str, str] | None,
    routable: bool, availability_zone: str,
) -> bytes:
    """The body of StartActualLRP or EvacuateRunningActualLRP: Diego gives both the same fields."""
    return request(
        actual_lrp_key=key,
        actual_lrp_instance_key=instance_key,
        actual_lrp_net_info=net_info,
        actual_lrp_internal_routes=internal_routes or (),
        metric_tags=metric_tags or {},
        Routable=routable,
        availability_zone=availability_zone,
    ).SerializeToString()


def _task_guid(task_guid: str) -> bytes:
    return models.TaskGuidRequest(task_guid=task_guid).SerializeToString()
