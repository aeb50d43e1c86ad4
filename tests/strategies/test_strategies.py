"""pytest_diego.strategies against the embedded BBS: every valid message is accepted and read back
byte for byte; every invalid one and every malformed body is refused in band with InvalidRequest
and changes nothing. The valid ones also pass the parts of Diego's validation the embedded BBS
does not check (``diego_rules``), since the fuzz scenario sends them to real Diegos."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from diego_rules import action_problems, desired_lrp_problems, rule_problems, shared_problems
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from pytest_diego import strategies
from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs.errors import BBSConfigError, BBSError
from pytest_diego.cluster.bbs import validation
from pytest_diego.strategies import REQUESTS, Invalid
from pytest_diego.workload import desired_lrp

THROUGH_BBS = settings(max_examples=60, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OFFLINE = settings(max_examples=100, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DOMAIN = "strategies"
_serial = itertools.count()


def unique(guid: str) -> str:
    """``guid`` made unique in this BBS (Hypothesis draws the same guids again)."""
    return f"{guid[:20]}-{next(_serial)}"


def bytes_of(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)


def refused(client: BBSClient, route: str, body: bytes) -> BBSError:
    """The BBS's in-band error for ``body`` on ``route``; fails if it was accepted."""
    response = REQUESTS[route][1]
    with pytest.raises(BBSError) as error:
        client.post(route, body, response)
    return error.value


# -- valid --------------------------------------------------------------------------------------------
@THROUGH_BBS
@given(lrp=strategies.desired_lrps(domain=st.just(DOMAIN)))
def test_valid_desired_lrps_are_accepted_and_read_back_byte_for_byte(client, lrp):
    lrp.process_guid = unique(lrp.process_guid)
    client.desire_lrp(lrp)
    try:
        stored = client.desired_lrp_by_process_guid(lrp.process_guid)
        assert stored.modification_tag.epoch  # the BBS's own field
        stored.ClearField("modification_tag")
        assert bytes_of(stored) == bytes_of(lrp)
        assert len(client.actual_lrps(process_guid=lrp.process_guid)) == lrp.instances
    finally:
        client.remove_desired_lrp(lrp.process_guid)


@THROUGH_BBS
@given(request=strategies.desire_task_requests(domain=st.just(DOMAIN)))
def test_valid_tasks_are_accepted_and_read_back_byte_for_byte(client, request):
    guid = unique(request.task_guid)
    client.desire_task(guid, request.domain, request.task_definition)
    try:
        stored = client.task_by_guid(guid)
        assert (stored.task_guid, stored.domain, stored.state) == (guid, DOMAIN, models.Task.Pending)
        assert bytes_of(stored.task_definition) == bytes_of(request.task_definition)
    finally:
        client.cancel_task(guid)
        client.resolving_task(guid)
        client.delete_task(guid)


@THROUGH_BBS
@given(lrp=strategies.desired_lrps(domain=st.just(DOMAIN), instances=st.just(0)),
       update=strategies.desired_lrp_updates())
def test_valid_updates_are_accepted_and_change_only_what_they_set(client, lrp, update):
    lrp.process_guid = unique(lrp.process_guid)
    client.desire_lrp(lrp)
    try:
        client.update_desired_lrp(lrp.process_guid, update)
        stored = client.desired_lrp_by_process_guid(lrp.process_guid)
        stored.ClearField("modification_tag")
        assert bytes_of(stored) == bytes_of(strategies.updated_desired_lrp(lrp, update))
    finally:
        client.remove_desired_lrp(lrp.process_guid)


@OFFLINE
@given(lrp=strategies.desired_lrps(), request=strategies.desire_task_requests())
def test_valid_messages_pass_diegos_validation_beyond_the_embedded_bbss(lrp, request):
    validation.desired_lrp(lrp)
    validation.desire_task(request)
    assert desired_lrp_problems(lrp) == []
    assert shared_problems(request.task_definition) == []
    assert len(bytes_of(lrp.routes)) <= 128 * 1024 and len(lrp.annotation.encode()) <= 10 * 1024


def test_the_diego_rules_could_fail() -> None:
    """The checks above are not vacuous: what Diego refuses, they name."""
    run = models.Action(run_action=models.RunAction(path="/bin/true"))  # no user
    assert action_problems(run) == ["action.user"]
    empty = models.Action(serial_action=models.SerialAction())
    assert action_problems(empty) == ["action.actions"]
    timeout = models.Action(timeout_action=models.TimeoutAction(action=models.Action(
        download_action=models.DownloadAction(to="/x", user="vcap", checksum_value="ab", **{"from": "u"}))))
    assert action_problems(timeout) == ["action.timeout_action: checksum value and algorithm go together",
                                        "action.timeout"]
    both = models.SecurityGroupRule(protocol="tcp", destinations=["10.0.0.0/8"], ports=[80],
                                    port_range=models.PortRange(start=1, end=2))
    assert rule_problems(both) == ["ports or port_range, one of them"]
    assert rule_problems(models.SecurityGroupRule(protocol="all", destinations=["10.0.0.9-10.0.0.1"])) == [
        "destination 10.0.0.9-10.0.0.1"]


# -- invalid ------------------------------------------------------------------------------------------
PER_FIELD = settings(THROUGH_BBS, max_examples=8)


@pytest.mark.parametrize("field", strategies.DESIRED_LRP_FIELDS)
def test_invalid_desired_lrps_are_refused_in_band_naming_the_field(client, field):
    @PER_FIELD
    @given(strategies.invalid_desired_lrps(fields=[field]))
    def check(invalid: Invalid) -> None:
        assert invalid.field == field
        refuse_lrp(client, invalid)

    check()


def refuse_lrp(client: BBSClient, invalid: Invalid) -> None:
    lrp = invalid.message
    if lrp.process_guid and invalid.field != "process_guid":
        lrp.process_guid = unique(lrp.process_guid)
    before = len(client.desired_lrps())
    error = refused(client, "DesireDesiredLRP", bytes_of(models.DesireLRPRequest(desired_lrp=lrp)))
    assert error.type == "InvalidRequest"
    assert f"Invalid field: {invalid.field}" in error.message
    assert len(client.desired_lrps()) == before


@pytest.mark.parametrize("field", strategies.TASK_FIELDS)
def test_invalid_task_requests_are_refused_in_band_naming_the_field(client, field):
    @PER_FIELD
    @given(strategies.invalid_desire_task_requests(fields=[field]))
    def check(invalid: Invalid) -> None:
        assert invalid.field == field
        refuse_task(client, invalid)

    check()


def refuse_task(client: BBSClient, invalid: Invalid) -> None:
    request = invalid.message
    if request.task_guid and invalid.field != "task_guid":
        request.task_guid = unique(request.task_guid)
    before = len(client.tasks())
    error = refused(client, "DesireTask", bytes_of(request))
    assert error.type == "InvalidRequest"
    assert f"Invalid field: {invalid.field}" in error.message
    assert len(client.tasks()) == before


@pytest.mark.parametrize("field", strategies.UPDATE_FIELDS)
def test_invalid_updates_are_refused_and_change_nothing(client, field):
    @PER_FIELD
    @given(strategies.invalid_desired_lrp_updates(fields=[field]))
    def check(invalid: Invalid) -> None:
        refuse_update(client, invalid)

    check()


def refuse_update(client: BBSClient, invalid: Invalid) -> None:
    lrp = _sentinel(client)
    before = bytes_of(client.desired_lrp_by_process_guid(lrp))
    request = models.UpdateDesiredLRPRequest(process_guid=lrp, update=invalid.message)
    error = refused(client, "UpdateDesireLRP", bytes_of(request))
    assert error.type == "InvalidRequest" and f"Invalid field: {invalid.field}" in error.message
    assert bytes_of(client.desired_lrp_by_process_guid(lrp)) == before


def _sentinel(client: BBSClient) -> str:
    """A DesiredLRP that stays for the module (desired once)."""
    guid = "strategies-sentinel"
    if not client.desired_lrps(process_guids=[guid]):
        client.desire_lrp(desired_lrp(guid, domain=DOMAIN, instances=0))
    return guid


# -- malformed bytes ----------------------------------------------------------------------------------
@OFFLINE
@given(body=strategies.malformed_protobuf(st.binary(max_size=0) | st.sampled_from(
    [strategies.filled(request).SerializeToString() for request, _ in REQUESTS.values()])))
def test_malformed_bytes_decode_as_no_request_message(body):
    for request, _ in REQUESTS.values():
        with pytest.raises(DecodeError):
            request.FromString(body)


@settings(THROUGH_BBS, max_examples=200)
@given(route_and_body=strategies.malformed_requests())
def test_malformed_requests_are_refused_in_band_on_every_route(client, route_and_body):
    route, body = route_and_body
    before = (len(client.desired_lrps()), len(client.tasks()))
    error = refused(client, route, body)
    assert (error.type, error.message) == ("InvalidRequest", "the request received is invalid")
    assert (len(client.desired_lrps()), len(client.tasks())) == before


@pytest.mark.parametrize("route", sorted(REQUESTS))
def test_malformed_requests_reach_every_route(route: str) -> None:
    """Each route is drawn by the default strategy (searched for, not hoped for in a sample)."""
    found = find(strategies.malformed_requests(), lambda drawn: drawn[0] == route,
                            settings=settings(OFFLINE, max_examples=2000, database=None))
    assert found[0] == route


def test_post_refuses_an_unknown_route_by_name(client) -> None:
    with pytest.raises(BBSConfigError, match="no BBS route named 'DesireTasks'"):
        client.post("DesireTasks", b"", models.TaskLifecycleResponse)


def test_breaking_an_unknown_field_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"cannot break \['cpu_weight'\]: choose from process_guid"):
        strategies.invalid_desired_lrps(fields=["cpu_weight"])  # only the embedded BBS checks it


def test_the_documented_example_runs_against_a_bbs(bbs_server) -> None:
    """The documented strategies example, as written, against the embedded BBS (its URL swapped in)."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "writing-scenarios.md").read_text()
    section = readme.split("## Hypothesis strategies for Diego's models", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "http://127.0.0.1:8889" in code
    namespace: dict[str, Any] = {}
    exec(compile(code.replace("http://127.0.0.1:8889", bbs_server.url), "writing-scenarios.md", "exec"),
         namespace)
    example = namespace["test_what_i_desire_is_what_i_read_back"]
    settings(max_examples=10, deadline=None, database=None)(example)()
    with BBSClient(bbs_server.url) as client:
        assert client.desired_lrps(domain="my-fuzz") == []  # each example removed what it desired
