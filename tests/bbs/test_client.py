"""BBSClient against a recording BBS stand-in over plain HTTP: routes, bodies, errors, streams."""

from __future__ import annotations

import pickle
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from bbs_fakeserver import serve, stream_events

from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs import client as client_module
from pytest_diego.bbs.errors import (
    BBSClientError,
    BBSConfigError,
    BBSConnectionError,
    BBSError,
    BBSHTTPError,
    BBSProtocolError,
    BBSTimeoutError,
)
from pytest_diego.bbs.events import encode_event
from pytest_diego.bbs.routes import ROUTES
from tests.support.ports import free_port

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def answer(message=None, status=200, headers=None):
    body = message.SerializeToString() if message is not None else b""
    return lambda request, handler: (status, {**PROTOBUF, **(headers or {})}, body)


class Observed(list):
    def __call__(self, route, started_at, duration, outcome):
        self.append((route, started_at, duration, outcome))

    @property
    def outcomes(self):
        return [(route, outcome) for route, _, _, outcome in self]


KEY = models.ActualLRPKey(process_guid="pg", index=1, domain="cf-apps")
INSTANCE = models.ActualLRPInstanceKey(instance_guid="ig", cell_id="cell-0")
NET_INFO = models.ActualLRPNetInfo(
    address="127.1.0.1", ports=[models.PortMapping(container_port=8080, host_port=61001)]
)
LRP = models.DesiredLRP(
    process_guid="pg",
    domain="cf-apps",
    root_fs="preloaded:cflinuxfs4",
    instances=2,
    action=models.Action(run_action=models.RunAction(path="/bin/app")),
    metric_tags={"source_id": models.MetricTagValue(static="pg")},
)
TASK_DEFINITION = models.TaskDefinition(root_fs="preloaded:cflinuxfs4", memory_mb=128)
SCHEDULING_INFO = models.DesiredLRPSchedulingInfo(
    desired_lrp_key=models.DesiredLRPKey(process_guid="pg", domain="cf-apps"), instances=2
)
ACTUAL = models.ActualLRP(actual_lrp_key=KEY, state="RUNNING")
TASK = models.Task(task_guid="tg", domain="d", state=models.Task.Pending)
LIFECYCLE = models.ActualLRPLifecycleResponse()

# (call, route name, request sent (None: empty body), response served, expected return value)
CASES = [
    (lambda c: c.ping(), "Ping", None, models.PingResponse(available=True), True),
    (
        lambda c: c.domains(),
        "Domains",
        None,
        models.DomainsResponse(domains=["cf-apps", "d"]),
        ["cf-apps", "d"],
    ),
    (
        lambda c: c.upsert_domain("cf-apps", 120),
        "UpsertDomain",
        models.UpsertDomainRequest(domain="cf-apps", ttl=120),
        models.UpsertDomainResponse(),
        None,
    ),
    (
        lambda c: c.cells(),
        "Cells",
        None,
        models.CellsResponse(cells=[models.CellPresence(cell_id="cell-0", zone="z0")]),
        [models.CellPresence(cell_id="cell-0", zone="z0")],
    ),
    (
        lambda c: c.desire_lrp(LRP),
        "DesireDesiredLRP",
        models.DesireLRPRequest(desired_lrp=LRP),
        models.DesiredLRPLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.update_desired_lrp("pg", models.DesiredLRPUpdate(instances=0)),
        "UpdateDesireLRP",
        models.UpdateDesiredLRPRequest(process_guid="pg", update=models.DesiredLRPUpdate(instances=0)),
        models.DesiredLRPLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.remove_desired_lrp("pg"),
        "RemoveDesiredLRP",
        models.RemoveDesiredLRPRequest(process_guid="pg"),
        models.DesiredLRPLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.desired_lrps(domain="cf-apps", process_guids=["a", "b"]),
        "DesiredLRPs",
        models.DesiredLRPsRequest(domain="cf-apps", process_guids=["a", "b"]),
        models.DesiredLRPsResponse(desired_lrps=[LRP]),
        [LRP],
    ),
    (
        lambda c: c.desired_lrps(),
        "DesiredLRPs",
        None,
        models.DesiredLRPsResponse(desired_lrps=[LRP, LRP]),
        [LRP, LRP],
    ),
    (
        lambda c: c.desired_lrp_by_process_guid("pg"),
        "DesiredLRPByProcessGuid",
        models.DesiredLRPByProcessGuidRequest(process_guid="pg"),
        models.DesiredLRPResponse(desired_lrp=LRP),
        LRP,
    ),
    (
        lambda c: c.desired_lrp_scheduling_infos(domain="cf-apps"),
        "DesiredLRPSchedulingInfos",
        models.DesiredLRPsRequest(domain="cf-apps"),
        models.DesiredLRPSchedulingInfosResponse(desired_lrp_scheduling_infos=[SCHEDULING_INFO]),
        [SCHEDULING_INFO],
    ),
    (
        lambda c: c.desired_lrp_scheduling_info_by_process_guid("pg"),
        "DesiredLRPSchedulingInfoByProcessGuid",
        models.DesiredLRPByProcessGuidRequest(process_guid="pg"),
        models.DesiredLRPSchedulingInfoByProcessGuidResponse(desired_lrp_scheduling_info=SCHEDULING_INFO),
        SCHEDULING_INFO,
    ),
    (
        lambda c: c.desired_lrp_routing_infos(["pg"]),
        "DesiredLRPRoutingInfos",
        models.DesiredLRPsRequest(process_guids=["pg"]),
        models.DesiredLRPsResponse(desired_lrps=[LRP]),
        [LRP],
    ),
    (
        lambda c: c.actual_lrps(domain="cf-apps", cell_id="cell-0", process_guid="pg", index=0),
        "ActualLRPs",
        models.ActualLRPsRequest(domain="cf-apps", cell_id="cell-0", process_guid="pg", index=0),
        models.ActualLRPsResponse(actual_lrps=[ACTUAL]),
        [ACTUAL],
    ),
    (lambda c: c.actual_lrps(), "ActualLRPs", None, models.ActualLRPsResponse(), []),
    (
        lambda c: c.actual_lrps_by_process_guids(["a", "b"]),
        "ActualLRPsByProcessGuids",
        models.ActualLRPsByProcessGuidsRequest(process_guids=["a", "b"]),
        models.ActualLRPsByProcessGuidsResponse(actual_lrps=[ACTUAL]),
        [ACTUAL],
    ),
    (
        lambda c: c.retire_actual_lrp(KEY),
        "RetireActualLRP",
        models.RetireActualLRPRequest(actual_lrp_key=KEY),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.claim_actual_lrp("pg", 1, INSTANCE),
        "ClaimActualLRP",
        models.ClaimActualLRPRequest(process_guid="pg", index=1, actual_lrp_instance_key=INSTANCE),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.start_actual_lrp(
            KEY,
            INSTANCE,
            NET_INFO,
            internal_routes=[models.ActualLRPInternalRoute(hostname="pg.apps.internal")],
            metric_tags={"source_id": "pg"},
            routable=False,
            availability_zone="z0",
        ),
        "StartActualLRP",
        models.StartActualLRPRequest(
            actual_lrp_key=KEY,
            actual_lrp_instance_key=INSTANCE,
            actual_lrp_net_info=NET_INFO,
            actual_lrp_internal_routes=[models.ActualLRPInternalRoute(hostname="pg.apps.internal")],
            metric_tags={"source_id": "pg"},
            Routable=False,
            availability_zone="z0",
        ),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.crash_actual_lrp(KEY, INSTANCE, "exit status 1"),
        "CrashActualLRP",
        models.CrashActualLRPRequest(
            actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE, error_message="exit status 1"
        ),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.fail_actual_lrp(KEY, "insufficient resources: memory"),
        "FailActualLRP",
        models.FailActualLRPRequest(actual_lrp_key=KEY, error_message="insufficient resources: memory"),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.remove_actual_lrp("pg", 1, INSTANCE),
        "RemoveActualLRP",
        models.RemoveActualLRPRequest(process_guid="pg", index=1, actual_lrp_instance_key=INSTANCE),
        LIFECYCLE,
        None,
    ),
    (
        lambda c: c.evacuate_claimed_actual_lrp(KEY, INSTANCE),
        "EvacuateClaimedActualLRP",
        models.EvacuateClaimedActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE),
        models.EvacuationResponse(keep_container=True),
        True,
    ),
    (
        lambda c: c.evacuate_running_actual_lrp(KEY, INSTANCE, NET_INFO, availability_zone="z1"),
        "EvacuateRunningActualLRP",
        models.EvacuateRunningActualLRPRequest(
            actual_lrp_key=KEY,
            actual_lrp_instance_key=INSTANCE,
            actual_lrp_net_info=NET_INFO,
            Routable=True,
            availability_zone="z1",
        ),
        models.EvacuationResponse(keep_container=True),
        True,
    ),
    (
        lambda c: c.evacuate_stopped_actual_lrp(KEY, INSTANCE),
        "EvacuateStoppedActualLRP",
        models.EvacuateStoppedActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE),
        models.EvacuationResponse(),
        False,
    ),
    (
        lambda c: c.evacuate_crashed_actual_lrp(KEY, INSTANCE, "oom"),
        "EvacuateCrashedActualLRP",
        models.EvacuateCrashedActualLRPRequest(
            actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE, error_message="oom"
        ),
        models.EvacuationResponse(),
        False,
    ),
    (
        lambda c: c.remove_evacuating_actual_lrp(KEY, INSTANCE),
        "RemoveEvacuatingActualLRP",
        models.RemoveEvacuatingActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE),
        models.RemoveEvacuatingActualLRPResponse(),
        None,
    ),
    (
        lambda c: c.desire_task("tg", "d", TASK_DEFINITION),
        "DesireTask",
        models.DesireTaskRequest(task_guid="tg", domain="d", task_definition=TASK_DEFINITION),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.tasks(domain="d", cell_id="cell-0"),
        "Tasks",
        models.TasksRequest(domain="d", cell_id="cell-0"),
        models.TasksResponse(tasks=[TASK]),
        [TASK],
    ),
    (
        lambda c: c.task_by_guid("tg"),
        "TaskByGuid",
        models.TaskByGuidRequest(task_guid="tg"),
        models.TaskResponse(task=TASK),
        TASK,
    ),
    (
        lambda c: c.cancel_task("tg"),
        "CancelTask",
        models.TaskGuidRequest(task_guid="tg"),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.resolving_task("tg"),
        "ResolvingTask",
        models.TaskGuidRequest(task_guid="tg"),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.delete_task("tg"),
        "DeleteTask",
        models.TaskGuidRequest(task_guid="tg"),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.start_task("tg", "cell-0"),
        "StartTask",
        models.StartTaskRequest(task_guid="tg", cell_id="cell-0"),
        models.StartTaskResponse(should_start=True),
        True,
    ),
    (
        lambda c: c.complete_task("tg", "cell-0", True, "boom", "out"),
        "CompleteTask",
        models.CompleteTaskRequest(
            task_guid="tg", cell_id="cell-0", failed=True, failure_reason="boom", result="out"
        ),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.reject_task("tg", "insufficient resources: disk"),
        "RejectTask",
        models.RejectTaskRequest(task_guid="tg", rejection_reason="insufficient resources: disk"),
        models.TaskLifecycleResponse(),
        None,
    ),
    (
        lambda c: c.fail_task("tg", "gone"),
        "FailTask",
        models.FailTaskRequest(task_guid="tg", failure_reason="gone"),
        models.TaskLifecycleResponse(),
        None,
    ),
]

@pytest.mark.parametrize(("call", "route", "request_message", "response", "expected"), CASES)
def test_every_route_posts_its_protobuf_request(fake_bbs, call, route, request_message, response, expected):
    fake_bbs.responder = answer(response)
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed) as client:
        assert call(client) == expected
    [request] = fake_bbs.requests
    assert request.method == "POST"
    assert request.path == ROUTES[route]
    assert request.headers["Content-Type"] == "application/x-protobuf"
    assert uuid.UUID(request.headers["X-Vcap-Request-Id"]).version == 4
    if request_message is None:
        assert request.body == b""
    else:
        assert type(request_message).FromString(request.body) == request_message
    assert observed.outcomes == [(route, "ok")]


def test_every_current_route_has_a_client_method():
    called = {route for _, route, _, _, _ in CASES}
    assert set(ROUTES) - called == {"TaskEventStream", "LRPInstanceEventStream"}  # covered by stream tests


def test_paths_use_current_revisions():
    assert ROUTES["DesireDesiredLRP"] == "/v1/desired_lrp/desire.r2"
    assert ROUTES["DesiredLRPs"] == "/v1/desired_lrps/list.r3"
    assert ROUTES["TaskByGuid"] == "/v1/tasks/get_by_task_guid.r3"
    assert ROUTES["StartActualLRP"] == "/v1/actual_lrps/start.r1"
    assert ROUTES["LRPInstanceEventStream"] == "/v1/events/lrp_instances.r1"


def test_request_ids_differ_and_connections_are_kept_alive(fake_bbs):
    fake_bbs.responder = answer(models.PingResponse(available=True))
    with BBSClient(fake_bbs.url) as client:
        for _ in range(20):
            assert client.ping()
    assert len({request.headers["X-Vcap-Request-Id"] for request in fake_bbs.requests}) == 20
    assert len({request.client_port for request in fake_bbs.requests}) == 1


def test_concurrent_calls_share_the_pool(fake_bbs):
    fake_bbs.responder = answer(models.TasksResponse(tasks=[TASK]))
    with BBSClient(fake_bbs.url) as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.tasks(domain="d"), range(80)))
    assert results == [[TASK]] * 80
    assert len({request.client_port for request in fake_bbs.requests}) <= 8


@pytest.mark.parametrize(
    ("call", "error_type", "message"),
    [
        (lambda c: c.desire_lrp(LRP), "ResourceExists", "the requested resource already exists"),
        (lambda c: c.task_by_guid("nope"), "ResourceNotFound", "the requested resource could not be found"),
        (
            lambda c: c.desire_task("bad guid", "d", TASK_DEFINITION),
            "InvalidRequest",
            "invalid field: task_guid",
        ),
        (lambda c: c.claim_actual_lrp("pg", 0, INSTANCE), "ActualLRPCannotBeClaimed", "cannot be claimed"),
        (lambda c: c.start_task("tg", "cell-0"), "InvalidStateTransition", "Cannot transition from RUNNING"),
    ],
)
def test_in_band_errors_raise_bbs_error(fake_bbs, call, error_type, message):
    error = models.Error(type=models.Error.Type.Value(error_type), message=message)
    response = {
        "ResourceExists": models.DesiredLRPLifecycleResponse(error=error),
        "ResourceNotFound": models.TaskResponse(error=error),
        "InvalidRequest": models.TaskLifecycleResponse(error=error),
        "ActualLRPCannotBeClaimed": models.ActualLRPLifecycleResponse(error=error),
        "InvalidStateTransition": models.StartTaskResponse(error=error, should_start=True),
    }[error_type]
    fake_bbs.responder = answer(response)
    observed = Observed()
    client = BBSClient(fake_bbs.url, observer=observed, retries=3)
    with pytest.raises(BBSError) as info:
        call(client)
    assert (info.value.type, info.value.message, info.value.url) == (error_type, message, fake_bbs.url)
    assert isinstance(info.value, BBSClientError)
    assert [outcome for _, outcome in observed.outcomes] == [error_type]  # in-band errors are not retried
    assert len(fake_bbs.requests) == 1


def test_errors_survive_pickling_with_their_attributes():
    error = BBSError("ResourceExists", "already there", url="http://bbs:8889")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.type, copy.message, copy.url, copy.outcome) == (
        BBSError, str(error), "ResourceExists", "already there", "http://bbs:8889", "ResourceExists")
    http = pickle.loads(pickle.dumps(BBSHTTPError("502", url="http://bbs:8889", status=502)))
    assert (type(http), http.status, http.outcome) == (BBSHTTPError, 502, "HTTPError")


def test_unknown_error_type_number_is_kept(fake_bbs):
    fake_bbs.responder = answer(models.TaskLifecycleResponse(error=models.Error(type=99, message="new")))
    with pytest.raises(BBSError) as info:
        BBSClient(fake_bbs.url).cancel_task("tg")
    assert info.value.type == "99"


def test_unknown_error_zero_value_still_counts_as_an_error(fake_bbs):
    fake_bbs.responder = answer(models.TaskLifecycleResponse(error=models.Error()))
    with pytest.raises(BBSError) as info:
        BBSClient(fake_bbs.url).cancel_task("tg")
    assert info.value.type == "UnknownError"


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (404, "endpoint not found: the BBS at {url} does not serve /v1/tasks/list.r3 (older BBS?)"),
        (503, "BBS unavailable at {url}: HTTP 503 (migrations running or not the active BBS)"),
        (405, "the BBS at {url} answered Tasks (/v1/tasks/list.r3) with HTTP 405: method not allowed"),
    ],
)
def test_http_status_errors(fake_bbs, status, text):
    fake_bbs.responder = lambda request, handler: (
        status,
        {"Content-Type": "text/plain"},
        b"method not allowed",
    )
    observed = Observed()
    with pytest.raises(BBSHTTPError) as info:
        BBSClient(fake_bbs.url, observer=observed).tasks()
    assert str(info.value) == text.format(url=fake_bbs.url)
    assert info.value.status == status
    assert observed.outcomes == [("Tasks", "HTTPError")]


def test_router_error_header_is_diegos_router_error(fake_bbs):
    fake_bbs.responder = lambda request, handler: (502, {"X-Cf-Routererror": "endpoint_failure"}, b"")
    with pytest.raises(BBSError) as info:
        BBSClient(fake_bbs.url).ping()
    assert info.value.type == "RouterError"
    assert "endpoint_failure" in info.value.message


def test_undecodable_body_is_a_protocol_error(fake_bbs):
    fake_bbs.responder = lambda request, handler: (200, PROTOBUF, b"<html>not a BBS</html>")
    observed = Observed()
    with pytest.raises(BBSProtocolError) as info:
        BBSClient(fake_bbs.url, observer=observed).domains()
    assert info.value.type == "InvalidProtobufMessage"
    assert "DomainsResponse" in str(info.value) and fake_bbs.url in str(info.value)
    assert observed.outcomes == [("Domains", "InvalidProtobufMessage")]


def test_timeout(fake_bbs):
    def slow(request, handler):
        fake_bbs.stop.wait(5)
        return (200, PROTOBUF, b"")

    fake_bbs.responder = slow
    observed = Observed()
    client = BBSClient(fake_bbs.url, timeout=0.2, observer=observed)
    with pytest.raises(BBSTimeoutError, match=r"did not answer DesireTask within 0\.2s") as info:
        client.desire_task("tg", "d", TASK_DEFINITION)
    assert info.value.url == fake_bbs.url
    assert observed.outcomes == [("DesireTask", "Timeout")]


def test_stalled_body_is_a_timeout(fake_bbs):
    def stall(request, handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-protobuf")
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"\x12\x07cf-apps")
        fake_bbs.stop.wait(5)

    fake_bbs.responder = stall
    observed = Observed()
    with pytest.raises(BBSTimeoutError, match="did not answer Domains"):
        BBSClient(fake_bbs.url, timeout=0.2, observer=observed).domains()
    assert observed.outcomes == [("Domains", "Timeout")]


def test_connection_refused_names_the_url_and_the_option():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BBSConnectionError) as info:
        BBSClient(url).ping()
    assert str(info.value) == (
        f"could not connect to the BBS at {url}: [Errno 111] Connection refused — is it running? "
        "check url"
    )


def test_retries_only_transport_failures_and_reports_every_attempt():
    observed = Observed()
    client = BBSClient(f"http://127.0.0.1:{free_port()}", observer=observed, retries=2)
    client.retry_interval = 0.01
    started = time.time()
    with pytest.raises(BBSConnectionError):
        client.cells()
    assert observed.outcomes == [("Cells", "ConnectionError")] * 3
    assert all(
        started <= started_at <= time.time() and duration >= 0 for _, started_at, duration, _ in observed
    )


def test_retry_succeeds_once_the_bbs_answers(fake_bbs):
    attempts = []

    def flaky(request, handler):
        attempts.append(request)
        if len(attempts) == 1:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)  # drop the connection without answering
            return None
        return (200, PROTOBUF, models.PingResponse(available=True).SerializeToString())

    fake_bbs.responder = flaky
    observed = Observed()
    client = BBSClient(fake_bbs.url, observer=observed, retries=1)
    client.retry_interval = 0.01
    assert client.ping() is True
    assert observed.outcomes == [("Ping", "ConnectionError"), ("Ping", "ok")]


def test_no_retries_by_default():
    observed = Observed()
    with pytest.raises(BBSConnectionError):
        BBSClient(f"http://127.0.0.1:{free_port()}", observer=observed).ping()
    assert len(observed) == 1


def test_environment_proxies_are_ignored(fake_bbs, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    fake_bbs.responder = answer(models.PingResponse(available=True))
    assert BBSClient(fake_bbs.url).ping()


# -------------------------------------------------------------------- plain-HTTP connection pool


def test_idle_connections_the_server_closed_are_replaced_transparently(fake_bbs):
    fake_bbs.idle_timeout = 0.1
    fake_bbs.responder = answer(models.PingResponse(available=True))
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed) as client:
        for _ in range(3):
            assert client.ping()
            time.sleep(0.3)  # the server has closed the pooled connection by now
    assert observed.outcomes == [("Ping", "ok")] * 3  # the re-send is not a separate attempt
    assert len(fake_bbs.requests) == 3  # a stale connection never delivered its request
    assert len({request.client_port for request in fake_bbs.requests}) == 3


def test_connections_closed_right_after_an_answer_are_replaced(fake_bbs):
    def answer_then_close(request, handler):
        handler.close_connection = True  # closes without saying Connection: close
        return (200, PROTOBUF, models.PingResponse(available=True).SerializeToString())

    fake_bbs.responder = answer_then_close
    with BBSClient(fake_bbs.url) as client:
        for _ in range(5):
            assert client.ping()
            time.sleep(0.05)
    assert len(fake_bbs.requests) == 5


def test_connection_close_responses_are_not_pooled(fake_bbs):
    fake_bbs.responder = answer(models.PingResponse(available=True), headers={"Connection": "close"})
    with BBSClient(fake_bbs.url) as client:
        assert client.ping() and client.ping()
    assert len({request.client_port for request in fake_bbs.requests}) == 2


def test_server_restart_between_calls():
    port = free_port()
    observed = Observed()
    with BBSClient(f"http://127.0.0.1:{port}", observer=observed) as client:
        for generation in range(2):
            with serve(port=port) as bbs:
                bbs.responder = answer(models.DomainsResponse(domains=[f"gen-{generation}"]))
                assert client.domains() == [f"gen-{generation}"]
                assert client.domains() == [f"gen-{generation}"]
            assert len(bbs.requests) == 2
        with pytest.raises(BBSConnectionError, match="Connection refused"):
            client.domains()  # down: the stale connection is dropped, the fresh one refused
    assert [outcome for _, outcome in observed.outcomes] == ["ok"] * 4 + ["ConnectionError"]


def test_a_request_the_bbs_read_and_dropped_is_not_re_sent(fake_bbs):
    """The BBS may have applied it (a desire, say): sending it again could apply it twice."""

    def first_then_drop(request, handler):
        if len(fake_bbs.requests) == 1:
            return (200, PROTOBUF, models.PingResponse(available=True).SerializeToString())
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)
        return None

    fake_bbs.responder = first_then_drop
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed) as client:
        assert client.ping()
        with pytest.raises(BBSConnectionError):
            client.ping()
    assert observed.outcomes == [("Ping", "ok"), ("Ping", "ConnectionError")]
    assert len(fake_bbs.requests) == 2  # sent once on the reused connection, never again


def test_no_re_send_after_a_timeout_on_a_reused_connection(fake_bbs):
    def slow_second(request, handler):
        if len(fake_bbs.requests) > 1:
            fake_bbs.stop.wait(1)
        return (200, PROTOBUF, models.PingResponse(available=True).SerializeToString())

    fake_bbs.responder = slow_second
    observed = Observed()
    with BBSClient(fake_bbs.url, timeout=0.3, observer=observed) as client:
        assert client.ping()
        with pytest.raises(BBSTimeoutError, match=r"did not answer Ping within 0\.3s"):
            client.ping()
        time.sleep(0.5)  # a re-send would have reached the server by now
    assert observed.outcomes == [("Ping", "ok"), ("Ping", "Timeout")]
    assert len(fake_bbs.requests) == 2


def test_cut_body_is_a_connection_error_and_not_re_sent(fake_bbs):
    def cut(request, handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"\x12\x07cf-apps")
        handler.close_connection = True

    fake_bbs.responder = answer(models.DomainsResponse())
    with BBSClient(fake_bbs.url) as client:
        client.domains()
        fake_bbs.responder = cut
        with pytest.raises(BBSConnectionError, match=r"IncompleteRead\(9 bytes read, 91 more expected\)"):
            client.domains()
        fake_bbs.responder = answer(models.DomainsResponse(domains=["cf-apps"]))
        assert client.domains() == ["cf-apps"]
    assert len(fake_bbs.requests) == 3


def test_many_threads_share_the_pool(fake_bbs):
    fake_bbs.responder = answer(models.PingResponse(available=True))
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed) as client:

        def user(_: int) -> int:
            return sum(client.ping() for _ in range(200))

        with ThreadPoolExecutor(16) as pool:
            assert sum(pool.map(user, range(16))) == 16 * 200
        assert len(client._pool._idle) <= 16
    assert len(fake_bbs.requests) == 16 * 200
    assert {outcome for _, _, _, outcome in observed} == {"ok"}
    assert len({request.client_port for request in fake_bbs.requests}) <= 16  # never more than in use


def test_idle_connections_beyond_the_pool_size_are_closed(fake_bbs, monkeypatch):
    monkeypatch.setattr(client_module, "POOL_SIZE", 2)
    fake_bbs.responder = answer(models.PingResponse(available=True))
    with BBSClient(fake_bbs.url) as client, ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda _: client.ping(), range(160)))
        assert len(client._pool._idle) <= 2


# ---------------------------------------------------------------- configuration errors


@pytest.mark.parametrize("url", ["bbs.service.cf.internal:8889", "ftp://x", "https://", ""])
def test_bad_url(url):
    with pytest.raises(BBSConfigError, match=r"BBS URL .* \(url\) must look like https://"):
        BBSClient(url)


def test_missing_cert_file_names_the_setting(tmp_path):
    with pytest.raises(BBSConfigError, match=r"^cert_file .*missing.crt: no such file"):
        BBSClient("https://127.0.0.1:8889", cert_file=tmp_path / "missing.crt", key_file=tmp_path / "k")


def test_cert_without_key(pki):
    with pytest.raises(BBSConfigError, match=r"needs both cert_file and key_file; only cert_file was given"):
        BBSClient("https://127.0.0.1:8889", cert_file=pki.client.cert_file)


def test_messages_name_the_settings_by_the_callers_labels(tmp_path):
    labels = {"url": "--diego-bbs-url (BBS_URL)", "cert_file": "--diego-cert (CLIENT_CERT_FILE)",
              "key_file": "--diego-key (CLIENT_KEY_FILE)"}
    missing = r"^--diego-cert \(CLIENT_CERT_FILE\) .*missing.crt: no such file"
    with pytest.raises(BBSConfigError, match=missing):
        BBSClient("https://127.0.0.1:8889", cert_file=tmp_path / "missing.crt", key_file=tmp_path / "k",
                  setting_labels=labels)
    with pytest.raises(BBSConfigError, match=r"\(--diego-bbs-url \(BBS_URL\)\) must look like"):
        BBSClient("bbs:8889", setting_labels=labels)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BBSConnectionError, match=r"check --diego-bbs-url \(BBS_URL\)$"):
        BBSClient(url, setting_labels=labels).ping()
    with pytest.raises(BBSConfigError, match=r"setting_labels has unknown settings \['cert'\]"):
        BBSClient(url, setting_labels={"cert": "--cert"})


def test_mismatched_cert_and_key(pki):
    with pytest.raises(BBSConfigError, match="not a PEM certificate and its matching"):
        BBSClient("https://127.0.0.1:8889", cert_file=pki.client.cert_file, key_file=pki.server.key_file)


def test_garbage_ca_file(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("not a certificate")
    with pytest.raises(BBSConfigError, match=r"^ca_file .*ca.crt is not a PEM CA certificate"):
        BBSClient("https://127.0.0.1:8889", ca_file=ca)


def test_tls_files_with_plain_http_url(pki):
    with pytest.raises(
        BBSConfigError, match=r"^ca_file given but the BBS URL .* is plain HTTP"
    ):
        BBSClient("http://127.0.0.1:8889", ca_file=pki.ca.cert_file)


# ---------------------------------------------------------------- event streams


def random_pieces(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 40)))
    return [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]


INSTANCE_EVENTS = [
    models.ActualLRPInstanceCreatedEvent(actual_lrp=ACTUAL, trace_id="t1"),
    models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=KEY,
        actual_lrp_instance_key=INSTANCE,
        before=models.ActualLRPInfo(state="CLAIMED"),
        after=models.ActualLRPInfo(state="RUNNING", actual_lrp_net_info=NET_INFO, Routable=True),
    ),
    models.ActualLRPCrashedEvent(actual_lrp_key=KEY, crash_count=1, crash_reason="exit 1"),
    models.DesiredLRPCreatedEvent(desired_lrp=LRP),
    models.ActualLRPInstanceRemovedEvent(actual_lrp=ACTUAL),
]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lrp_instance_events_split_at_random_positions(fake_bbs, chunked, seed):
    stream = b"".join(encode_event(number, event) for number, event in enumerate(INSTANCE_EVENTS, 1))
    fake_bbs.responder = lambda request, handler: stream_events(
        handler, random_pieces(stream, random.Random(seed)), chunked=chunked
    )
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed).lrp_instance_events(cell_id="cell-0") as events:
        received = list(events)
    assert [event.message for event in received] == INSTANCE_EVENTS
    assert [event.id for event in received] == [1, 2, 3, 4, 5]
    assert received[1].type == "actual_lrp_instance_changed"
    assert received[1].message.after.Routable is True
    [request] = fake_bbs.requests
    assert request.path == "/v1/events/lrp_instances.r1"
    assert models.EventsByCellId.FromString(request.body).cell_id == "cell-0"
    assert observed.outcomes == [("LRPInstanceEventStream", "ok")]
    assert events.closed


def test_task_events_and_close_from_another_thread(fake_bbs):
    created = models.TaskCreatedEvent(task=TASK)
    fake_bbs.responder = lambda request, handler: stream_events(
        handler, [encode_event(1, created)], hold=fake_bbs.stop
    )
    events = BBSClient(fake_bbs.url).task_events()
    first = next(events)
    assert (first.type, first.id, first.message) == ("task_created", 1, created)
    assert fake_bbs.requests[0].path == "/v1/events/tasks.r1"
    assert fake_bbs.requests[0].body == b""
    closer = threading.Timer(0.2, events.close)
    closer.start()
    assert next(events, None) is None  # unblocked by close(); a hang here fails on the suite timeout
    closer.join()


def test_dropped_stream_without_reconnect_ends_iteration(fake_bbs):
    fake_bbs.responder = lambda request, handler: stream_events(
        handler, [encode_event(1, INSTANCE_EVENTS[0])]
    )
    events = BBSClient(fake_bbs.url).lrp_instance_events()
    assert [event.id for event in events] == [1]
    assert len(fake_bbs.requests) == 1


def test_reconnect_resubscribes_after_a_dropped_stream(fake_bbs):
    def two_streams(request, handler):
        if len(fake_bbs.requests) == 1:
            stream_events(handler, [encode_event(1, INSTANCE_EVENTS[0]), encode_event(2, INSTANCE_EVENTS[2])])
        else:
            stream_events(handler, [encode_event(1, INSTANCE_EVENTS[3])], hold=fake_bbs.stop)

    fake_bbs.responder = two_streams
    observed = Observed()
    with BBSClient(fake_bbs.url, observer=observed).lrp_instance_events(reconnect=True) as events:
        received = [next(events) for _ in range(3)]
    assert [event.message for event in received] == [
        INSTANCE_EVENTS[0],
        INSTANCE_EVENTS[2],
        INSTANCE_EVENTS[3],
    ]
    assert observed.outcomes == [("LRPInstanceEventStream", "ok")] * 2


def test_subscription_errors_raise(fake_bbs):
    fake_bbs.responder = lambda request, handler: (404, {"Content-Type": "text/plain"}, b"404 page not found")
    with pytest.raises(BBSHTTPError, match=r"does not serve /v1/events/lrp_instances\.r1"):
        BBSClient(fake_bbs.url).lrp_instance_events()
    with pytest.raises(BBSConnectionError):
        BBSClient(f"http://127.0.0.1:{free_port()}").task_events()


def test_undecodable_event_raises_protocol_error(fake_bbs):
    fake_bbs.responder = lambda request, handler: stream_events(
        handler, [b"id: 1\nevent: task_created\ndata: !!\n\n"]
    )
    with (
        BBSClient(fake_bbs.url).task_events() as events,
        pytest.raises(BBSProtocolError, match="task_created"),
    ):
        next(events)


def test_partial_event_at_the_end_of_a_stream_is_discarded():
    with serve() as bbs:
        bbs.responder = lambda request, handler: stream_events(
            handler, [encode_event(1, INSTANCE_EVENTS[0]), b"id: 2\nevent: actual_lrp_cr"]
        )
        events = BBSClient(bbs.url).lrp_instance_events()
        assert [event.id for event in events] == [1]
