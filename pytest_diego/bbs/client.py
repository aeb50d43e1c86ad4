"""``BBSClient``: Diego's BBS API over HTTP(S) with protobuf bodies, one method per route.

Speaks to a real Diego BBS (mutual TLS) and to the embedded cluster's BBS alike. Built for load
drivers: it reuses pooled keep-alive connections and builds every route URL once. Plain-HTTP
BBSes (the embedded cluster's) get a lean socket pool with a C response parser (``transport``),
since requests/urllib3 cost most of a load driver's CPU there; HTTPS goes through requests'
adapter for its TLS handling.
"""

from __future__ import annotations

import http.client
import os
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, overload
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
    BBSHTTPError,
    BBSProtocolError,
    BBSTimeoutError,
    BBSTLSError,
)
from pytest_diego.bbs.events import EventStream
from pytest_diego.bbs.routes import EMBEDDED_ROUTES, ROUTES
from pytest_diego.bbs.transport import ConnectionPool, MalformedResponse

Observer = Callable[[str, float, float, str], Any]
M = TypeVar("M", bound=Message)

PROTOBUF = "application/x-protobuf"
POOL_SIZE = 64
_EMPTY = b""
_ERROR_NAMES = {value.number: value.name for value in models.Error.Type.DESCRIPTOR.values}
_HAS_ERROR: dict[type[Message], bool] = {}
_DROPPED = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
_TIMEOUTS = (
    urllib3.exceptions.ReadTimeoutError,
    TimeoutError,
)  # NewConnectionError is a urllib3 TimeoutError

# OpenSSL reasons meaning the BBS refused our certificate (alerts it sent during the handshake).
_CLIENT_REJECTED = (
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_HANDSHAKE_FAILURE",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_ACCESS_DENIED",
    "ALERT_DECRYPT_ERROR",
)


class BBSClient:
    """Client of Diego's BBS API; thread-safe, with up to ``POOL_SIZE`` pooled keep-alive connections.

    ``observer(route, started_at, duration, outcome)`` is called after every attempt (retries
    included) with Diego's route name, ``time.time()`` at the start, the duration in seconds and
    ``"ok"``, an ``Error.Type`` name or a transport failure class. ``retries`` retries connection
    failures and timeouts only, ``retry_interval`` seconds apart (Diego's client: 0.5 s). The
    plain-HTTP pool's re-send of a request a stale pooled connection never delivered is part of
    the same attempt, not a retry: the BBS saw the request once.
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
    ) -> None:
        self.url = _check_url(url)
        self.timeout = timeout
        self.retries = retries
        self._observer = observer
        self._tls = _check_tls(self.url, ca_file, cert_file, key_file, skip_cert_verify)
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies must not replace our settings
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        self._session = session
        self._urls = {name: self.url + path for name, path in {**ROUTES, **EMBEDDED_ROUTES}.items()}
        self._user_agent = f"pytest-diego/{__version__}"
        if skip_cert_verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._pool: ConnectionPool | None = None
        self._send: Callable[[str, bytes], tuple[int, _Headers, bytes]] = self._send_requests
        if self.url.startswith("http://"):
            parts = urlsplit(self.url)
            self._pool = ConnectionPool(parts.hostname or "127.0.0.1", parts.port or 80, timeout, POOL_SIZE)
            self._heads = {name: _request_head(_host_header(parts), urlsplit(url).path, self._user_agent)
                           for name, url in self._urls.items()}
            self._send = self._send_pooled

    def __repr__(self) -> str:
        return f"BBSClient({self.url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        if self._pool is not None:
            self._pool.close()
        self._session.close()

    def __enter__(self) -> BBSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transport

    def _prepare(self, route: str, body: bytes) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = self._urls[route]
        prepared.body = body
        prepared.headers = CaseInsensitiveDict(
            {
                "Content-Type": PROTOBUF,
                "Content-Length": str(len(body)),
                "X-Vcap-Request-Id": str(uuid.uuid4()),
                "User-Agent": self._user_agent,
            }
        )
        return prepared

    def _exchange(self, route: str, body: bytes) -> tuple[int, _Headers, bytes]:
        """Status, headers and body of one POST; transport failures as ``BBSClientError``."""
        try:
            return self._send(route, body)
        except (requests.RequestException, OSError, http.client.HTTPException) as exc:
            raise self._transport_error(route, exc) from exc

    def _send_requests(self, route: str, body: bytes) -> tuple[int, _Headers, bytes]:
        """HTTPS: requests' adapter, whose TLS failures ``_transport_error`` classifies."""
        response = self._adapter.send(
            self._prepare(route, body), timeout=self.timeout, verify=self._tls.verify, cert=self._tls.cert
        )
        return response.status_code, response.headers, response.content

    def _send_pooled(self, route: str, body: bytes) -> tuple[int, _Headers, bytes]:
        """Plain HTTP: prebuilt request bytes over the socket pool, a fraction of requests' CPU."""
        assert self._pool is not None
        request = b"%sContent-Length: %d\r\nX-Vcap-Request-Id: %s\r\n\r\n%s" % (
            self._heads[route], len(body), str(uuid.uuid4()).encode(), body)
        return self._pool.post(request)

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
            raise self._http_error(route, status, content)
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
            error = message.error
            raise BBSError(_ERROR_NAMES.get(error.type, str(error.type)), error.message, url=self.url)
        return message

    def _http_error(self, route: str, status: int, content: bytes) -> BBSHTTPError:
        path = self._urls[route][len(self.url) :]
        if status == 404 and route in EMBEDDED_ROUTES:
            text = (
                f"endpoint not found: the BBS at {self.url} does not serve {path}: only the embedded "
                "cluster's BBS does (Diego keeps cell presences in Locket)"
            )
        elif status == 404:
            text = f"endpoint not found: the BBS at {self.url} does not serve {path} (older BBS?)"
        elif status == 503:
            text = f"BBS unavailable at {self.url} (migrations running or not the active BBS)"
        else:
            snippet = content[:200].decode("utf-8", "replace").strip()
            text = f"the BBS at {self.url} answered {route} ({path}) with HTTP {status}" + (
                f": {snippet}" if snippet else ""
            )
        return BBSHTTPError(text, url=self.url, status=status)

    def _transport_error(self, route: str, exc: BaseException) -> BBSClientError:
        chain = _chain(exc)
        if isinstance(exc, requests.Timeout) or any(isinstance(item, _TIMEOUTS) for item in chain):
            return BBSTimeoutError(
                f"the BBS at {self.url} did not answer {route} within {self.timeout:g}s "
                f"(raise the client timeout or check the BBS's load): {_cause(exc)}",
                url=self.url,
            )
        malformed = next((item for item in chain if isinstance(item, MalformedResponse)), None)
        if malformed is not None:
            return BBSProtocolError(
                f"the server at {self.url} answered {route} with {malformed} — is {self.url} a Diego BBS? "
                "check --diego-bbs-url",
                url=self.url,
            )
        tls_error = next((item for item in chain if isinstance(item, ssl.SSLError)), None)
        if isinstance(exc, requests.exceptions.SSLError) or tls_error is not None:
            return BBSTLSError(_tls_message(self.url, tls_error, exc), url=self.url)
        hint = "is it running? check --diego-bbs-url"
        if self.url.startswith("https://") and any(isinstance(item, _DROPPED) for item in chain):
            # with TLS 1.3 a BBS that rejects our certificate may just close the connection
            hint += "; if it requires client certificates, check --diego-cert/--diego-key"
        return BBSConnectionError(
            f"could not connect to the BBS at {self.url}: {_cause(exc)} — {hint}", url=self.url
        )

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

    def upsert_cell_presence(self, cell_presence: models.CellPresence) -> None:
        """Register or refresh a cell's presence. Embedded cluster only: Diego keeps it in Locket."""
        self._call("UpsertCellPresence", cell_presence.SerializeToString(), None)

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
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        internal_routes: Iterable[models.ActualLRPInternalRoute] | None = None,
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
    ) -> None:
        body = models.StartActualLRPRequest(
            actual_lrp_key=key,
            actual_lrp_instance_key=instance_key,
            actual_lrp_net_info=net_info,
            actual_lrp_internal_routes=internal_routes or (),
            metric_tags=metric_tags or {},
            Routable=routable,
            availability_zone=availability_zone,
        ).SerializeToString()
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
        body = models.EvacuateClaimedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        ).SerializeToString()
        return self._call("EvacuateClaimedActualLRP", body, models.EvacuationResponse).keep_container

    def evacuate_running_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        internal_routes: Iterable[models.ActualLRPInternalRoute] | None = None,
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
    ) -> bool:
        """Returns ``keep_container``."""
        body = models.EvacuateRunningActualLRPRequest(
            actual_lrp_key=key,
            actual_lrp_instance_key=instance_key,
            actual_lrp_net_info=net_info,
            actual_lrp_internal_routes=internal_routes or (),
            metric_tags=metric_tags or {},
            Routable=routable,
            availability_zone=availability_zone,
        ).SerializeToString()
        return self._call("EvacuateRunningActualLRP", body, models.EvacuationResponse).keep_container

    def evacuate_stopped_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        """Returns ``keep_container``."""
        body = models.EvacuateStoppedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        ).SerializeToString()
        return self._call("EvacuateStoppedActualLRP", body, models.EvacuationResponse).keep_container

    def evacuate_crashed_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey, error_message: str
    ) -> bool:
        """Returns ``keep_container``."""
        body = models.EvacuateCrashedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        ).SerializeToString()
        return self._call("EvacuateCrashedActualLRP", body, models.EvacuationResponse).keep_container

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
        try:
            response = self._adapter.send(
                self._prepare(route, body),
                stream=True,
                timeout=(self.timeout, None),
                verify=self._tls.verify,
                cert=self._tls.cert,
            )
        except requests.RequestException as exc:
            raise self._transport_error(route, exc) from exc
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

    def get(self, name: str, default: None = None) -> str | None: ...


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


def _task_guid(task_guid: str) -> bytes:
    return models.TaskGuidRequest(task_guid=task_guid).SerializeToString()


def _check_url(url: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BBSConfigError(
            f"BBS URL {url!r} (--diego-bbs-url) must look like https://bbs.service.cf.internal:8889 "
            "or http://127.0.0.1:PORT"
        )
    return str(url).rstrip("/")


class _TLS:
    """What requests needs per call: ``verify`` (CA path, True or False) and ``cert``."""

    __slots__ = ("cert", "verify")

    def __init__(self, verify: str | bool, cert: tuple[str, str] | None) -> None:
        self.verify = verify
        self.cert = cert


_FLAGS = {"ca_file": "--diego-ca", "cert_file": "--diego-cert", "key_file": "--diego-key"}


def _check_tls(
    url: str,
    ca_file: str | os.PathLike[str] | None,
    cert_file: str | os.PathLike[str] | None,
    key_file: str | os.PathLike[str] | None,
    skip_cert_verify: bool,
) -> _TLS:
    given = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    paths = {name: _readable(name, path) for name, path in given.items() if path is not None}
    if not url.startswith("https://"):
        if paths:
            names = ", ".join(f"{name} ({_FLAGS[name]})" for name in paths)
            raise BBSConfigError(
                f"{names} given but the BBS URL {url} is plain HTTP: use https:// or drop them"
            )
        return _TLS(True, None)
    if ("cert_file" in paths) != ("key_file" in paths):
        raise BBSConfigError(
            "a client certificate needs both cert_file (--diego-cert) and key_file (--diego-key); "
            f"only {'cert_file' if 'cert_file' in paths else 'key_file'} was given"
        )
    context = ssl.create_default_context()
    if "ca_file" in paths:
        try:
            context.load_verify_locations(cafile=paths["ca_file"])
        except (ssl.SSLError, ValueError) as exc:
            raise BBSConfigError(
                f"ca_file (--diego-ca) {paths['ca_file']} is not a PEM CA certificate: {exc}"
            ) from exc
    cert = None
    if "cert_file" in paths:
        cert = (paths["cert_file"], paths["key_file"])
        try:
            context.load_cert_chain(*cert)
        except ssl.SSLError as exc:
            raise BBSConfigError(
                f"cert_file (--diego-cert) {cert[0]} and key_file (--diego-key) {cert[1]} are not a PEM "
                f"certificate and its matching unencrypted private key: {exc}"
            ) from exc
    verify: str | bool = False if skip_cert_verify else paths.get("ca_file", True)
    return _TLS(verify, cert)


def _readable(name: str, path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    if not os.path.isfile(text):
        raise BBSConfigError(f"{name} ({_FLAGS[name]}) {text}: no such file")
    if not os.access(text, os.R_OK):
        raise BBSConfigError(f"{name} ({_FLAGS[name]}) {text}: not readable by this user")
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` through causes, contexts, args and ``.reason``."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in nested if isinstance(item, BaseException))
    return seen


def _cause(exc: BaseException) -> str:
    """The most telling message in the chain: the OS error (``[Errno 111] Connection refused``)."""
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, OSError) and item.strerror and not isinstance(item, ssl.SSLError):
            return f"[Errno {item.errno}] {item.strerror}" if item.errno else item.strerror
    return str(chain[-1])


def _tls_message(url: str, tls_error: ssl.SSLError | None, exc: BaseException) -> str:
    detail = str(tls_error) if tls_error is not None else str(exc)
    reason = (getattr(tls_error, "reason", None) or detail).upper()
    if isinstance(tls_error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in reason:
        verify_message = getattr(tls_error, "verify_message", "") or detail
        return (
            f"TLS handshake with the BBS at {url} failed: server certificate not trusted: "
            f"check --diego-ca ({verify_message})"
        )
    if any(marker in reason for marker in _CLIENT_REJECTED):
        return (
            f"TLS handshake with the BBS at {url} failed: client certificate rejected: "
            f"check --diego-cert/--diego-key ({detail})"
        )
    return f"TLS handshake with the BBS at {url} failed: {detail}"
